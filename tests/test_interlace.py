"""Interlaced input: detected (flag or idet), deinterlaced with bwdif at frame or field rate, flagged
progressive; progressive input untouched. Clips are woven here from a known camera pan of a real photo,
so every deinterlaced frame can be compared against the progressive original it came from."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from app.pipeline import EnhanceOptions, enhance_file, probe
from tests.conftest import SHARED_MEDIA, needs_shared
from tests.media import make_video, read_video, write_tone
from tests.test_cli_enhance import flask

W, H = 320, 240
FIELDS = 24  # progressive frames at 50 per second -> 12 interlaced frames at 25
PHOTO = "media/fivek_a1629.jpg"
pytestmark = needs_shared(PHOTO, "weights/lut3d/LUTs.pth")


def pan_frames(count: int = FIELDS) -> list[np.ndarray]:
    """A slow camera pan over the photo: frame i is shifted 1 px right and 1 px down from frame i-1.

    The photo is low-passed vertically ([1, 2, 1] / 4) as interlaced cameras do, against line twitter.
    """
    photo = np.asarray(Image.open(SHARED_MEDIA / "fivek_a1629.jpg").convert("RGB").resize((1280, 853)))
    photo = photo.astype(np.float32)
    photo[1:-1] = (photo[:-2] + 2 * photo[1:-1] + photo[2:]) / 4
    photo = photo.round().astype(np.uint8)
    return [photo[40 + i : 40 + i + H, 60 + i : 60 + i + W].copy() for i in range(count)]


def yuv(rgb: np.ndarray) -> av.VideoFrame:
    """An RGB frame as a yuv420p VideoFrame."""
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def weave(progressive: list[np.ndarray], tff: bool = True) -> list[av.VideoFrame]:
    """Pairs of progressive frames -> interlaced 4:2:0 frames, the first field from the earlier frame.

    Woven plane by plane (luma and chroma rows alternate between the fields, as in interlaced 4:2:0), so
    each field's chroma is its own frame's, as a camera records it.
    """
    woven = []
    for first, second in zip(progressive[0::2], progressive[1::2], strict=True):
        a, b = yuv(first), yuv(second)
        frame = av.VideoFrame(W, H, "yuv420p")
        for out, pa, pb in zip(frame.planes, a.planes, b.planes, strict=True):
            rows_a = np.frombuffer(pa, np.uint8).reshape(-1, pa.line_size)
            rows_b = np.frombuffer(pb, np.uint8).reshape(-1, pb.line_size)
            mixed = rows_b.copy()
            keep = slice(0, None, 2) if tff else slice(1, None, 2)
            mixed[keep] = rows_a[keep]
            out.update(mixed.tobytes())
        woven.append(frame)
    return woven


def write(path: Path, frames: list, fps: int, flagged: bool = False) -> Path:
    """Encode RGB frames (or yuv420p VideoFrames) as near-lossless H.264 with a tone.

    ``flagged``: encoded as interlaced, top field first (the stream's field order says ``tt``).
    """
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.codec_context.time_base = Fraction(1, fps)
        v.options = {"crf": "4", **({"x264-params": "tff=1"} if flagged else {})}
        a = out.add_stream("aac", rate=48000)
        a.layout = "stereo"
        for i, picture in enumerate(frames):
            frame = picture if isinstance(picture, av.VideoFrame) else yuv(picture)
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        write_tone(out, a, len(frames) / fps, 440)
    return path


def decode_rgb(path: Path) -> list[np.ndarray]:
    """Every frame of the first video stream as RGB."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (a 4-px border left out: bwdif's edge rows are spatial only)."""
    a, b = a[4:-4, 4:-4].astype(np.float64), b[4:-4, 4:-4].astype(np.float64)
    mse = np.mean((a - b) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def field_order(path: Path) -> int:
    """The output stream's AVFieldOrder (1 = progressive)."""
    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.field_order


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The progressive 50p original, its 25p frames, and the woven 25i clip flagged and unflagged."""
    folder = tmp_path_factory.mktemp("interlace")
    progressive = pan_frames()
    woven = weave(progressive)
    return {
        "p50": write(folder / "p50.mp4", progressive, 50),
        "p25": write(folder / "p25.mp4", progressive[0::2], 25),
        "i25": write(folder / "i25.mp4", woven, 25, flagged=True),
        "i25_noflag": write(folder / "i25_noflag.mp4", woven, 25),
    }


def lut3d(src: Path, dst: Path, **kw):
    """lut3d over ``src`` with the pipeline's defaults (deinterlace auto unless given)."""
    return enhance_file(src, dst, EnhanceOptions(model="lut3d", crf=4, **kw))


def test_detection_by_flag_and_by_idet_and_progressive_left_alone(clips):
    flagged, unflagged = probe(str(clips["i25"])), probe(str(clips["i25_noflag"]))
    assert (flagged.interlacing.parity, flagged.interlacing.source) == ("tff", "flag")
    assert (unflagged.interlacing.parity, unflagged.interlacing.source) == ("tff", "idet")
    assert probe(str(clips["p25"])).interlacing is None
    assert probe(str(make_video(clips["p25"].with_name("gradient.mp4"), frames=24))).interlacing is None


def test_frame_rate_deinterlace_matches_lut3d_on_the_progressive_original(clips, tmp_path):
    reference = lut3d(clips["p25"], tmp_path / "ref.mp4")
    assert reference.deinterlaced is None
    result = lut3d(clips["i25"], tmp_path / "out.mp4")
    assert result.deinterlaced == {"mode": "frame", "parity": "tff", "detected_by": "flag"}
    ref, out = decode_rgb(tmp_path / "ref.mp4"), decode_rgb(tmp_path / "out.mp4")
    assert len(out) == len(ref) == FIELDS // 2
    scores = [psnr(a, b) for a, b in zip(out, ref, strict=True)]
    assert min(scores) >= 36, scores
    woven = lut3d(clips["i25"], tmp_path / "woven.mp4", deinterlace="off")
    assert woven.deinterlaced is None
    combed = [psnr(a, b) for a, b in zip(decode_rgb(tmp_path / "woven.mp4"), ref, strict=True)]
    assert np.mean(combed) < np.mean(scores) - 1  # the check can fail: the woven frames are combed
    info = read_video(tmp_path / "out.mp4")
    assert field_order(tmp_path / "out.mp4") == 1
    assert info["times"] == pytest.approx(read_video(clips["i25"])["times"], abs=1e-6)
    assert float(av.open(str(tmp_path / "out.mp4")).streams.video[0].average_rate) == pytest.approx(25)


def test_field_deinterlace_gives_every_field_as_a_frame_in_sync(clips, tmp_path):
    reference = lut3d(clips["p50"], tmp_path / "ref50.mp4")
    assert reference.frames == FIELDS
    result = lut3d(clips["i25"], tmp_path / "out50.mp4", deinterlace="field")
    assert result.frames == FIELDS and result.deinterlaced["mode"] == "field"
    ref, out = decode_rgb(tmp_path / "ref50.mp4"), decode_rgb(tmp_path / "out50.mp4")
    scores = [psnr(a, b) for a, b in zip(out, ref, strict=True)]
    assert len(out) == FIELDS and min(scores) >= 36, scores
    before, after = read_video(clips["i25"]), read_video(tmp_path / "out50.mp4")
    assert after["times"] == pytest.approx([i / 50 for i in range(FIELDS)], abs=1e-6)
    assert float(av.open(str(tmp_path / "out50.mp4")).streams.video[0].average_rate) == pytest.approx(50)
    assert after["audio_seconds"][0] == pytest.approx(before["audio_seconds"][0], abs=0.05)


def test_unflagged_interlaced_clip_is_deinterlaced_too(clips, tmp_path):
    result = lut3d(clips["i25_noflag"], tmp_path / "out.mp4")
    assert result.deinterlaced == {"mode": "frame", "parity": "tff", "detected_by": "idet"}
    ref = decode_rgb(lut3d(clips["p25"], tmp_path / "ref.mp4") and tmp_path / "ref.mp4")
    scores = [psnr(a, b) for a, b in zip(decode_rgb(tmp_path / "out.mp4"), ref, strict=True)]
    assert min(scores) >= 36, scores


def test_progressive_clip_is_identical_with_auto_and_off(clips, tmp_path):
    # a deterministic enhancer: lut3d's threaded bf16 differs by a few levels from run to run
    for mode in ("auto", "off"):
        options = EnhanceOptions(model="bicubic", model_options={"scale": 2}, deinterlace=mode)
        assert enhance_file(clips["p25"], tmp_path / f"{mode}.mp4", options).deinterlaced is None
    auto, off = decode_rgb(tmp_path / "auto.mp4"), decode_rgb(tmp_path / "off.mp4")
    assert len(auto) == len(off) and all(np.array_equal(a, b) for a, b in zip(auto, off, strict=True))
    assert read_video(tmp_path / "auto.mp4")["times"] == read_video(tmp_path / "off.mp4")["times"]


def test_cli_summary_says_it_deinterlaced(clips, tmp_path):
    out = tmp_path / "cli.mp4"
    result = flask("enhance", str(clips["i25"]), "-o", str(out), "--model", "lut3d")
    assert result.returncode == 0, result.stderr
    summary = "deinterlaced (bwdif + motion fill, frame rate, top field first, detected by the flag)"
    assert summary in result.stdout
    unflagged = flask("enhance", str(clips["i25_noflag"]), "-o", str(out), "--model", "lut3d")
    assert unflagged.returncode == 0, unflagged.stderr
    assert "top field first, detected by idet)" in unflagged.stdout
    forced = flask("enhance", str(clips["p25"]), "-o", str(out), "--model", "lut3d", "--deinterlace", "frame")
    assert forced.returncode == 0 and "top field first, forced)" in forced.stdout, forced.stdout
    bad = flask("enhance", str(clips["i25"]), "-o", str(out), "--deinterlace", "x")
    assert bad.returncode == 2 and "--deinterlace" in bad.stderr


def interlaced_clip(src: Path) -> Path:
    """24 interlaced frames of a pan (top field first), a keyframe every 6: four segments of 6."""
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.codec_context.time_base = Fraction(1, 25)
        v.codec_context.gop_size = 6
        v.options = {"crf": "4", "x264-params": "tff=1:keyint=6:min-keyint=6:scenecut=0"}
        for i, frame in enumerate(weave(pan_frames(48))):
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return src


@pytest.mark.parametrize("mode", ["frame", "field"])
def test_split_job_with_deinterlacing_is_frame_exact(tmp_path, mode):
    """Segments read the frame before and after their window, so bwdif sees what the unsplit run sees."""
    from app.pipeline import enhancer_for
    from app.pipeline.segments import join_segments, plan_segments
    from app.pipeline.video import enhance_video

    src = interlaced_clip(tmp_path / "long.mp4")
    options = EnhanceOptions(model="bicubic", model_options={"scale": 2}, codec="ffv1", deinterlace=mode)
    whole = enhance_file(src, tmp_path / "whole.mkv", options)
    info = probe(str(src))
    plans = plan_segments(str(src), 6)
    assert len(plans) >= 3
    enhancer = enhancer_for(options)
    parts = []
    for plan in plans:
        part = tmp_path / f"seg{plan.index}.nut"
        enhance_video(
            str(src),
            part,
            enhancer,
            options,
            info,
            window=(plan.start_pts, plan.end_pts),
            window_frames=plan.frames,
        )
        parts.append(str(part))
    joined = tmp_path / "joined.mkv"
    assert join_segments(str(src), parts, joined) == whole.frames == (48 if mode == "field" else 24)
    a, b = decode_rgb(tmp_path / "whole.mkv"), decode_rgb(joined)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert read_video(joined)["times"] == read_video(tmp_path / "whole.mkv")["times"]


def test_ffmpegs_testsrc2_pattern_is_progressive(tmp_path):
    """Sharp synthetic pictures fool idet's default threshold (each frame 'TFF'): left untouched now."""
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command (apt-get install ffmpeg)")
    for size in ("160x120", "320x240"):
        clip = tmp_path / f"testsrc2-{size}.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate=25:duration=2",
                "-pix_fmt",
                "yuv444p",
                "-c:v",
                "libx264",
                str(clip),
            ],
            check=True,
            timeout=60,
        )
        assert probe(str(clip)).interlacing is None, size


@pytest.mark.parametrize("mode", ["frame", "field"])
def test_motion_fill_beats_plain_bwdif_on_a_pan_and_keeps_each_fields_own_lines(clips, mode):
    """The lines bwdif interpolates come back from the neighbouring fields along the motion: every frame
    is closer to the progressive original than bwdif's own, and the field's own lines are never touched."""
    from app.pipeline.interlace import Deinterlacer, _drain, _one_filter

    original = pan_frames() if mode == "field" else pan_frames()[0::2]
    with av.open(str(clips["i25"])) as c:
        stream = c.streams.video[0]
        woven = list(c.decode(stream))
        send = "send_field" if mode == "field" else "send_frame"
        plain = _one_filter(stream, "bwdif", f"mode={send}:parity=tff:deint=all")
        deinterlacer = Deinterlacer(stream, mode, "tff")
        bwdif, filled = [], []
        for frame in woven:
            plain.vpush(frame)
            bwdif += _drain(plain)
            filled += deinterlacer.push(frame)
        plain.vpush(None)
        bwdif += _drain(plain)
        filled += deinterlacer.flush()
    assert len(filled) == len(bwdif) == len(original)
    before = [psnr(f.to_ndarray(format="rgb24"), o) for f, o in zip(bwdif, original, strict=True)]
    after = [psnr(f.to_ndarray(format="rgb24"), o) for f, o in zip(filled, original, strict=True)]
    assert all(a > b + 0.5 for a, b in zip(after, before, strict=True)), (before, after)
    per_frame = 2 if mode == "field" else 1
    for index, frame in enumerate(filled):
        own = index % per_frame  # top field first: the first field's own lines are the even rows
        source = woven[index // per_frame]
        for plane, kept in zip(frame.planes, source.planes, strict=True):
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, -1)[own::2, : plane.width]
            expected = np.frombuffer(kept, np.uint8).reshape(kept.height, -1)[own::2, : kept.width]
            assert np.array_equal(rows, expected)
