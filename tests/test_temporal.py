"""Temporal stages in chains: ``bicubic+temporalfix`` streams 7-frame windows, mirrored at ends and cuts."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest
import torch

from app.pipeline import EnhanceOptions, enhance_file
from app.pipeline.temporal import CUT_THRESHOLD, CutDetector, WindowStream
from models import weights
from models.errors import UnknownModel
from models.registry import get_spec, has_temporal_stage, load_enhancer
from models.temporalfix import load_temporalfix, temporalfix_frame, window_indices
from tests.conftest import SHARED_WEIGHTS, needs_shared
from tests.test_cli_enhance import flask

pytestmark = needs_shared("weights/temporalfix/temporalfix_s2_v1.pth")

W, H, N = 64, 48, 12
X2 = {"bicubic.scale": 2}


def _scene(seed: int) -> np.ndarray:
    """A still textured picture (H, W, 3) uint8: blocks of random colour, smooth enough to stay sharp."""
    blocks = np.random.default_rng(seed).integers(30, 225, (H // 8, W // 8, 3))
    return np.kron(blocks, np.ones((8, 8, 1))).astype(np.int16)


def _noisy_clip(path, cut_at: int | None = None):
    """N frames of a still picture with fresh noise each frame (flicker TemporalFix averages away), lossless
    (FFV1, 4:4:4); with ``cut_at`` a different picture from that frame on. Returns the frames (N, H, W, 3)."""
    frames = []
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=12)
        v.width, v.height, v.pix_fmt = W, H, "yuv444p"
        for i in range(N):
            base = _scene(2 if cut_at is not None and i >= cut_at else 1)
            noise = np.random.default_rng(100 + i).integers(-12, 13, base.shape)
            rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame.reformat(format="yuv444p")))
        out.mux(v.encode(None))
    with av.open(str(path)) as c:  # what a decoder sees (4:4:4 round trip)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return np.stack(frames)


def _decode(path):
    """Every frame (N, h, w, 3) uint8 and its time in seconds."""
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
        return np.stack([f.to_ndarray(format="rgb24") for f in frames]), [float(f.time) for f in frames]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _reference(source: np.ndarray, windows: list[list[int]]) -> np.ndarray:
    """Frames computed directly: bicubic x2 of every source frame, then TemporalFix on the given windows."""
    bicubic = load_enhancer("bicubic", precision="fp32", options={"scale": 2})
    x = torch.from_numpy(source).permute(0, 3, 1, 2).float() / 255
    up = bicubic.process(x).clamp(0, 1)
    model = load_temporalfix(SHARED_WEIGHTS / "temporalfix", 2.0)
    out = torch.cat([temporalfix_frame(model, up[w].unsqueeze(0)) for w in windows])
    return (out * 255).round().byte().permute(0, 2, 3, 1).numpy()


def _run(tmp_path, source_path, **kw):
    out = tmp_path / "out.mkv"
    options = EnhanceOptions(
        model="bicubic+temporalfix", precision="fp32", codec="ffv1", model_options=X2, **kw
    )
    enhance_file(source_path, out, options)
    return out


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    """One end-to-end run over a 12-frame noisy still: (source frames, output frames, output times)."""
    weights.set_search_path([SHARED_WEIGHTS])  # module scope: runs before the autouse fixture does
    tmp = tmp_path_factory.mktemp("noisy")
    source = _noisy_clip(tmp / "in.mkv")
    out = _run(tmp, tmp / "in.mkv")
    return source, *_decode(out), _decode(tmp / "in.mkv")[1]


def test_chain_keeps_frame_count_and_timestamps(noisy_run):
    _source, out, times, source_times = noisy_run
    assert out.shape == (N, 2 * H, 2 * W, 3)
    assert times == source_times


def test_middle_frame_is_temporalfix_of_its_window_of_bicubic_frames(noisy_run):
    source, out, _, _ = noisy_run
    t = 6
    expected = _reference(source, [list(range(t - 3, t + 4))])[0]
    assert _psnr(out[t], expected) >= 45
    # the filter did something here (averaged the noise away), so the match above means the window was right
    bicubic_only = _reference(source, [[t] * 7])[0]
    assert _psnr(expected, bicubic_only) < 40


def test_first_and_last_windows_are_mirrored(noisy_run):
    source, out, _, _ = noisy_run
    first, last = window_indices(0, N), window_indices(N - 1, N)
    assert first == [3, 2, 1, 0, 1, 2, 3]
    expected = _reference(source, [first, last])
    assert _psnr(out[0], expected[0]) >= 45
    assert _psnr(out[-1], expected[1]) >= 45
    # repeating the edge frame instead would have given a measurably different frame
    edge = _reference(source, [[0, 0, 0, 0, 1, 2, 3]])[0]
    assert _psnr(out[0], edge) < _psnr(out[0], expected[0]) - 3


def test_window_stream_holds_at_most_seven_frames_and_mirrors_every_end():
    """Frames carry their own index, so each window says which frames it was made of."""
    stream = WindowStream(3, 3)
    n = 40
    windows = []
    for i in range(n):
        windows += stream.push(torch.full((3, 1, 1), float(i)), i, i == 0)
        assert len(stream.held) <= 7
    windows += stream.finish()
    assert stream.most_held == 7
    assert [stamp for _, stamp in windows] == list(range(n))
    for t, (window, _) in enumerate(windows):
        assert window.shape == (1, 7, 3, 1, 1)
        assert window[0, :, 0, 0, 0].int().tolist() == window_indices(t, n)


def test_window_stream_never_crosses_a_cut():
    stream = WindowStream(3, 3)
    cuts = {0, 6, 10}  # scenes of 6, 4 and 2 frames
    windows = []
    for i in range(12):
        windows += stream.push(torch.full((3, 1, 1), float(i)), i, i in cuts)
    windows += stream.finish()
    got = [w[0, :, 0, 0, 0].int().tolist() for w, _ in windows]
    assert got[6] == [9, 8, 7, 6, 7, 8, 9]  # the first frame after the cut: new-scene frames, mirrored
    assert got[5] == [2, 3, 4, 5, 4, 3, 2]  # the last before it: old-scene frames only
    assert got[10] == [11, 10, 11, 10, 11, 10, 11]  # a 2-frame scene is reflected back and forth
    assert len(got) == 12


def test_cut_detector_marks_a_hard_cut_and_not_noise():
    a, b = _scene(1), _scene(2)
    noisy = [np.clip(a + np.random.default_rng(i).integers(-12, 13, a.shape), 0, 255) for i in range(3)]
    frames = np.stack([*noisy, b]).astype(np.uint8).transpose(0, 3, 1, 2).copy()
    assert CutDetector().push(frames) == [True, False, False, True]
    assert 0 < CUT_THRESHOLD < 1


def test_first_frame_after_a_cut_uses_only_the_new_scene(tmp_path):
    source = _noisy_clip(tmp_path / "cut.mkv", cut_at=6)
    out, _ = _decode(_run(tmp_path, tmp_path / "cut.mkv"))
    inside = [6 + i for i in window_indices(0, N - 6)]  # 9, 8, 7, 6, 7, 8, 9
    crossing = list(range(3, 10))
    expected, mixed = _reference(source, [inside, crossing])
    assert _psnr(out[6], expected) >= 45
    assert _psnr(out[6], mixed) < _psnr(out[6], expected)


def test_preview_pads_its_own_end(tmp_path):
    source = _noisy_clip(tmp_path / "in.mkv")
    out, _ = _decode(_run(tmp_path, tmp_path / "in.mkv", frames=5))
    assert len(out) == 5
    expected = _reference(source[:5], [window_indices(4, 5)])[0]  # mirrored at frame 4, never frame 5
    assert _psnr(out[4], expected) >= 45


def test_registry_declares_temporalfix_and_refuses_it_before_per_frame_links():
    spec = get_spec("temporalfix")
    assert (spec.task, spec.scale, spec.licence, spec.window) == ("temporal", 1, "Apache-2.0", (3, 3))
    assert spec.options["strength"].describe()["default"] == 2.0
    assert has_temporal_stage("bicubic+temporalfix") and not has_temporal_stage("bicubic")
    with pytest.raises(UnknownModel, match="last link"):
        has_temporal_stage("temporalfix+bicubic")


def test_cli_runs_a_temporal_chain_with_a_qualified_option(tmp_path):
    _noisy_clip(tmp_path / "in.mkv")
    out = tmp_path / "out.mkv"
    result = flask(
        "enhance", str(tmp_path / "in.mkv"), "-o", str(out), "--model", "bicubic+temporalfix",
        "--model-option", "bicubic.scale=2", "--model-option", "temporalfix.strength=1", "--frames", "6",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(_decode(out)[0]) == 6


def test_cli_refuses_a_strength_out_of_range(tmp_path):
    _noisy_clip(tmp_path / "in.mkv")
    out = tmp_path / "out.mkv"
    result = flask(
        "enhance", str(tmp_path / "in.mkv"), "-o", str(out), "--model", "bicubic+temporalfix",
        "--model-option", "temporalfix.strength=4",
    )  # fmt: skip
    assert result.returncode == 2
    assert "temporalfix.strength" in result.stderr and not out.exists()


def test_models_endpoint_lists_temporalfix_with_its_option(tmp_path):
    from app import create_app

    client = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}}).test_client()
    body = client.get("/models").get_json()
    listed = {m["name"]: m for m in (body["models"] if isinstance(body, dict) else body)}
    entry = listed["temporalfix"]
    assert (entry["task"], entry["scale"], entry["ready"]) == ("temporal", 1, True)
    assert entry["options"]["strength"] | {"description": ""} == {
        "default": 2.0, "description": "", "type": "number", "minimum": 0.0, "maximum": 3.0,
    }  # fmt: skip


@pytest.mark.parametrize("model", ["bicubic+temporalfix", "bicubic+stabilize", "bicubic"])
def test_a_job_with_a_temporal_stage_is_split_like_any_other(monkeypatch, model):
    """Segments read the neighbours their temporal stage needs (tests/test_temporal_split.py), so a long
    temporal chain is planned for splitting like a per-frame one."""
    from types import SimpleNamespace

    from app.jobs import segmented

    media = {"kind": "video"}
    job = SimpleNamespace(segment_count=0, media=media, frames_total=100, model=model, input_path="in.mp4")
    job.options = {}
    store = SimpleNamespace(get=lambda job_id: job, Session=None)
    planned = []
    monkeypatch.setattr(segmented, "plan_segments", lambda *a: planned.append(a) or [])
    settings = SimpleNamespace(segment_frames=10)
    assert not segmented.plan_or_resume(store, None, settings, "j", "claim", "w", lambda *a: None)
    assert planned  # planned for splitting (and run whole only because this fake has no keyframe)
