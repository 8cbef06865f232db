"""Split jobs with a temporal stage: each segment reads the neighbours it needs, writes only its own frames,
and the joined video is the unsplit run's (app/pipeline/temporal.py ``overlap``, app/pipeline/video.py)."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from app.pipeline import EnhanceOptions, enhancer_for, probe
from app.pipeline.atomic import atomic_output
from app.pipeline.segments import join_segments, plan_segments
from app.pipeline.temporal import DEFAULT_WARMUP, overlap
from app.pipeline.video import enhance_video
from models.base import EnhancerInfo
from models.chain import ChainEnhancer
from models.temporal import TemporalEnhancer
from tests.test_temporal import _psnr

W, H = 32, 24


def scene_clip(path, frames: int = 24, cuts=(8,)) -> None:
    """A lossless (FFV1: every frame a keyframe) clip of noisy still pictures, a new picture at each cut."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=12)
        v.width, v.height, v.pix_fmt = W, H, "yuv444p"
        v.codec_context.gop_size = 1  # FFV1 starts a new keyframe every gop_size frames (12 by default)
        for i in range(frames):
            scene = sum(i >= c for c in cuts)
            blocks = np.random.default_rng(scene).integers(30, 225, (H // 8, W // 8, 3))
            base = np.kron(blocks, np.ones((8, 8, 1)))
            noise = np.random.default_rng(100 + i).integers(-12, 13, base.shape)
            frame = av.VideoFrame.from_ndarray(np.clip(base + noise, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame.reformat(format="yuv444p")))
        out.mux(v.encode(None))


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


class WeightedWindow(TemporalEnhancer):
    """A fake temporal stage with an uneven window (1 before, 3 after): frame t is a weighted mean of its
    window with a different weight per position, so any wrong, missing or mirrored neighbour shows."""

    window_before, window_after = 1, 3
    WEIGHTS = (0.1, 0.4, 0.2, 0.2, 0.1)

    def process_window(self, window: torch.Tensor) -> torch.Tensor:
        weights = torch.tensor(self.WEIGHTS, dtype=window.dtype).view(1, -1, 1, 1, 1)
        return (window * weights).sum(dim=1)


def fake_chain(options: EnhanceOptions):
    """bicubic x2 followed by the fake windowed stage, as the pipeline would build a chain."""
    bicubic = enhancer_for(options)
    info = EnhancerInfo(name="weighted", task="temporal", scale=1, licence="test")
    return ChainEnhancer(
        "bicubic+weighted", [bicubic, WeightedWindow(info, bicubic.device, torch.float32, 0)]
    )


def whole_run(src, dst, options: EnhanceOptions, enhancer) -> None:
    """An unsplit run of ``enhancer`` over ``src``."""
    with atomic_output(dst) as tmp:
        enhance_video(str(src), tmp, enhancer, options, probe(str(src)))


def split_run(src, dst, options: EnhanceOptions, enhancer, segment_frames: int, warmup: int = DEFAULT_WARMUP):
    """What the Celery workers do, in one process: plan, run every segment, join (app/jobs/segmented.py)."""
    plans = plan_segments(str(src), segment_frames, options.frames)
    assert len(plans) >= 3
    info = probe(str(src))
    parts = []
    for plan in plans:
        part = dst.parent / f"{dst.stem}-{plan.index}.nut"
        run = enhance_video(
            str(src),
            part,
            enhancer,
            options,
            info,
            window=(plan.start_pts, plan.end_pts),
            window_frames=plan.frames,
            stop=plans[-1].end_pts,
            warmup=warmup,
        )
        # a segment writes its own frames only (two per frame when each field becomes one)
        assert run.frames == plan.frames * (2 if options.deinterlace == "field" else 1)
        parts.append(str(part))
    join_segments(str(src), parts, dst, end_pts=plans[-1].end_pts if options.frames else None)
    return plans


@pytest.mark.parametrize("preview", [None, 20])
def test_split_windowed_stage_equals_unsplit_run_frame_for_frame(tmp_path, preview):
    """Cuts at a segment's first frame (8) and inside one (13); the preview ends inside the last segment,
    which must be mirrored at the preview's end, not read on."""
    src = tmp_path / "in.mkv"
    scene_clip(src, cuts=(8, 13))
    options = EnhanceOptions(model="bicubic", codec="ffv1", model_options={"scale": 2}, frames=preview)
    chain = fake_chain(options)
    whole_run(src, tmp_path / "whole.mkv", options, chain)
    plans = split_run(src, tmp_path / "split.mkv", options, chain, 8)
    assert plans[1].start_pts == 667  # frame 8 (ms): the first cut is a segment's first frame
    whole, split = decode(tmp_path / "whole.mkv"), decode(tmp_path / "split.mkv")
    assert len(whole) == len(split) == (preview or 24)
    for t, (a, b) in enumerate(zip(whole, split, strict=True)):
        assert np.array_equal(a, b), f"frame {t}: {_psnr(a, b):.1f} dB"


def test_split_stabilize_warms_up_on_the_frames_before_each_segment(tmp_path):
    """The recursive stage: with the default warm-up every frame is >= 45 dB from the unsplit run's (today
    identical); with none (one frame, for the cut detector) a segment's first frames differ more, so the
    warm-up is what makes the match."""
    src = tmp_path / "in.mkv"
    scene_clip(src, cuts=())
    options = EnhanceOptions(model="bicubic+stabilize", codec="ffv1", model_options={"bicubic.scale": 2})
    enhancer = enhancer_for(options)
    whole_run(src, tmp_path / "whole.mkv", options, enhancer)
    whole = decode(tmp_path / "whole.mkv")
    worst = {}
    for warmup in (DEFAULT_WARMUP, 0):
        split_run(src, tmp_path / f"split{warmup}.mkv", options, enhancer, 8, warmup)
        split = decode(tmp_path / f"split{warmup}.mkv")
        assert len(split) == len(whole) == 24
        worst[warmup] = min(_psnr(a, b) for a, b in zip(whole, split, strict=True))
    assert worst[DEFAULT_WARMUP] >= 45
    assert worst[DEFAULT_WARMUP] > worst[0]


def test_overlap_reads_the_window_and_a_recursive_stage_s_warm_up():
    from models.stabilize import StabilizeEnhancer

    assert overlap(None) == (0, 0)  # per-frame chains read nothing beyond their own frames
    info = EnhancerInfo(name="weighted", task="temporal", scale=1, licence="test")
    assert overlap(WeightedWindow(info, torch.device("cpu"), torch.float32, 0), 30) == (3, 3)
    stabilize = StabilizeEnhancer(info, torch.device("cpu"), torch.float32, 0.5)  # window 1 before
    assert overlap(stabilize, 30) == (30, 1)
    assert overlap(stabilize, 0) == (1, 1)  # the cut detector still needs the frame before


def test_warm_up_setting():
    from app.config import ConfigError, Settings

    assert Settings.from_env({}).segment_warmup == DEFAULT_WARMUP
    assert Settings.from_env({"ENHANCE_SEGMENT_WARMUP": "5"}).segment_warmup == 5
    with pytest.raises(ConfigError, match="ENHANCE_SEGMENT_WARMUP"):
        Settings.from_env({"ENHANCE_SEGMENT_WARMUP": "-1"})


def test_split_windowed_stage_after_field_deinterlacing_equals_unsplit_run(tmp_path):
    """Each field becomes a frame (bwdif, 25i -> 50p): the overlap is counted in those output frames, and
    the deinterlacer's own neighbour before the first frame read is decoded too."""
    from tests.test_interlace import interlaced_clip

    src = interlaced_clip(tmp_path / "interlaced.mp4")
    options = EnhanceOptions(model="bicubic", codec="ffv1", model_options={"scale": 2}, deinterlace="field")
    chain = fake_chain(options)
    whole_run(src, tmp_path / "whole.mkv", options, chain)
    split_run(src, tmp_path / "split.mkv", options, chain, 6)
    whole, split = decode(tmp_path / "whole.mkv"), decode(tmp_path / "split.mkv")
    assert len(whole) == len(split) == 48
    for t, (a, b) in enumerate(zip(whole, split, strict=True)):
        assert np.array_equal(a, b), f"frame {t}: {_psnr(a, b):.1f} dB"


def test_lead_in_finds_the_frame_n_before_a_segment_across_keyframes(tmp_path):
    """From packets only (H.264 with B-frames, a keyframe every 8): seeking back as far as it takes."""
    from app.pipeline.probing import open_input
    from app.pipeline.segments import lead_in
    from tests.media import make_video

    clip = make_video(tmp_path / "gop.mp4", frames=40, gop=8)
    with open_input(str(clip)) as container:
        stream = container.streams.video[0]
        stamps = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
        found = {n: stamps.index(lead_in(container, stamps[16], n)) for n in (1, 3, 12, 16, 30)}
        assert found == {1: 15, 3: 13, 12: 4, 16: 0, 30: 0}  # never before the video's first frame
        assert stamps.index(lead_in(container, stamps[0], 5)) == 0
