"""Make docs/evaluation/flicker-strip.jpg: one crop in consecutive frames, per-frame vs temporal.

The source is the sample clip's nearly still opening, scaled down to 160x120 with a little fresh noise in
every frame (sigma NOISE, as a DVD or phone capture has): a per-frame upscaler turns that noise into
flicker. Each model gets two rows: the crop in N consecutive output frames, and under it the change from
the previous frame (absolute difference, x8: on a still picture any change is flicker). Run from the repo
root: ``ENHANCE_WEIGHTS_PATH=../shared/weights .venv/bin/python docs/experiments/flicker_strip.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import configure_libraries  # noqa: E402
from app.config import Settings  # noqa: E402
from app.pipeline import EnhanceOptions, enhance_file  # noqa: E402

CLIP = Path("../shared/media/onepiece_demo.mp4")
FIRST, COUNT = 4, 6  # the clip's first frames are nearly still: what changes between them is flicker
SOURCE_SIZE = (160, 120)  # the clip scaled down: the upscalers' input
CROP = (200, 150, 160, 112)  # x, y, w, h in the x4 output
MODELS = (
    "bicubic",
    "realesr-animevideov3",
    "realesr-animevideov3+stabilize",
    "realesr-animevideov3+temporalfix",
)
OUT = Path("docs/evaluation/flicker-strip.jpg")
NOISE = 4.0  # grey levels of Gaussian noise added to each source frame (seeded: the figure repeats)
GAIN = 8  # how much the frame-to-frame change is amplified to be seen


def source_clip(folder: Path) -> Path:
    """The clip's frames FIRST-3 .. FIRST+COUNT+3, scaled to SOURCE_SIZE, as a lossless file."""
    path = folder / "source.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(CLIP)) as src, av.open(str(path), "w") as dst:
        stream = dst.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = *SOURCE_SIZE, "yuv444p"
        for i, frame in enumerate(src.decode(video=0)):
            if i < FIRST - 3:
                continue
            if i >= FIRST + COUNT + 3:
                break
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), SOURCE_SIZE, interpolation=cv2.INTER_AREA)
            rgb = np.clip(rgb + rng.normal(0, NOISE, rgb.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return path


def frames(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` as RGB."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def rows_for(name: str, outputs: list[np.ndarray]) -> np.ndarray:
    """The crop in COUNT frames, and the x4 change from each previous frame under it, with a label."""
    x, y, w, h = CROP
    crops = [f[y : y + h, x : x + w].astype(np.int16) for f in outputs[2 : 3 + COUNT]]
    top = np.hstack([c.astype(np.uint8) for c in crops[1:]])
    changes = [np.abs(b - a) for a, b in zip(crops, crops[1:], strict=False)]
    diff = np.hstack([np.clip(c * GAIN, 0, 255).astype(np.uint8) for c in changes])
    label = np.full((22, top.shape[1], 3), 255, np.uint8)
    mean_change = np.mean([c.mean() for c in changes])
    text = f"{name}   (mean change between frames: {mean_change:.2f} / 255)"
    cv2.putText(label, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([label, top, diff])


def main() -> None:
    """Run each model on the clip and write the strip."""
    configure_libraries(Settings.from_env())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = source_clip(folder)
        blocks = []
        for model in MODELS:
            out = folder / f"{model}.mkv"
            enhance_file(src, out, EnhanceOptions(model=model, codec="ffv1", precision="fp32"))
            blocks.append(rows_for(model, frames(out)))
            print(model, "done", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # JPEG: the strip is ~1 MB as PNG (noise compresses badly); quality 90 keeps the boiling edges visible
    cv2.imwrite(str(OUT), cv2.cvtColor(np.vstack(blocks), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print("wrote", OUT)


if __name__ == "__main__":
    main()
