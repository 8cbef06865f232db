"""``stabilize``: the weight-free, motion-compensated recursive filter (models/stabilize.py) in chains."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
import torch

from app.pipeline import EnhanceOptions, enhance_file
from models.registry import get_spec, has_temporal_stage, load_enhancer
from models.stabilize import new_state, stabilize_frame
from tests.test_cli_enhance import flask
from tests.test_temporal import _decode, _psnr  # the same decoding and PSNR as the temporalfix tests

W, H, N = 64, 48, 10
X2 = {"bicubic.scale": 2}


def _texture(seed: int, width: int, height: int) -> np.ndarray:
    """A picture (height, width, 3) int16 of 4x4 blocks of random colour: hard edges, fine detail."""
    blocks = np.random.default_rng(seed).integers(30, 225, (height // 4, width // 4, 3))
    return np.kron(blocks, np.ones((4, 4, 1))).astype(np.int16)


def _write(path, frames) -> np.ndarray:
    """Frames (N, H, W, 3) as a lossless 4:4:4 clip at 12 fps; returns what a decoder sees."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=12)
        v.width, v.height, v.pix_fmt = W, H, "yuv444p"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame.reformat(format="yuv444p")))
        out.mux(v.encode(None))
    return _decode(path)[0]


def _noisy_still(path, cut_at: int | None = None) -> np.ndarray:
    """A still picture with fresh noise every frame; with ``cut_at`` another picture from that frame on."""
    frames = []
    for i in range(N):
        base = _texture(2 if cut_at is not None and i >= cut_at else 1, W, H)
        frames.append(base + np.random.default_rng(100 + i).integers(-12, 13, base.shape))
    return _write(path, frames)


def _pan(path, step: tuple[float, float]) -> np.ndarray:
    """A clean camera pan: the view onto a wider picture moves ``step`` (x, y) pixels each frame. The
    picture's block edges are softened a little (band-limited): a hard edge moved by a fraction of a
    pixel changes its own sharpness from frame to frame, which would be flicker in the source itself."""
    pad = 4 * N
    wide = cv2.GaussianBlur(_texture(3, W + pad, H + pad).astype(np.float32), (0, 0), 0.7)
    frames = [
        cv2.warpAffine(
            wide, np.float32([[1, 0, -step[0] * i], [0, 1, -step[1] * i]]), (W + pad, H + pad),
            flags=cv2.INTER_CUBIC,
        )
        for i in range(N)
    ]  # fmt: skip
    return _write(path, [f[:H, :W] for f in frames])


def _flicker(frames: np.ndarray) -> float:
    """Mean absolute difference between consecutive frames (on a still scene: all of it is flicker)."""
    return float(np.abs(np.diff(frames.astype(np.float64), axis=0)).mean())


def _run(tmp_path, source, model="bicubic+stabilize", name="out.mkv", **options):
    out = tmp_path / name
    opts = EnhanceOptions(model=model, precision="fp32", codec="ffv1", model_options=X2 | options)
    enhance_file(source, out, opts)
    return _decode(out)


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    """The noisy still, per frame and stabilized: (source, per-frame, stabilized, times, source times)."""
    tmp = tmp_path_factory.mktemp("still")
    source = _noisy_still(tmp / "in.mkv")
    plain, _ = _run(tmp, tmp / "in.mkv", model="bicubic", name="plain.mkv")
    steady, times = _run(tmp, tmp / "in.mkv", name="steady.mkv")
    return source, plain, steady, times, _decode(tmp / "in.mkv")[1]


def test_frame_count_and_timestamps_unchanged(still):
    _source, plain, steady, times, source_times = still
    assert steady.shape == plain.shape == (N, 2 * H, 2 * W, 3)
    assert times == source_times


def test_noise_flicker_goes_down_and_psnr_against_the_clean_scene_goes_up(still):
    _source, plain, steady, _, _ = still
    clean = torch.from_numpy(_texture(1, W, H)).permute(2, 0, 1).unsqueeze(0).float() / 255
    bicubic = load_enhancer("bicubic", precision="fp32", options={"scale": 2})
    truth = (bicubic.process(clean).clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0).numpy()
    assert _flicker(steady) < 0.8 * _flicker(plain)
    # frame 0 has no history; from frame 2 on the recursion has averaged the noise down
    assert np.mean([_psnr(f, truth) for f in steady[2:]]) > np.mean([_psnr(f, truth) for f in plain[2:]]) + 1


@pytest.mark.parametrize("step", [(2, 0), (1.37, 0.6)])  # whole pixels, and a diagonal sub-pixel pan
def test_a_pan_is_followed_not_smeared(tmp_path, step):
    _pan(tmp_path / "pan.mkv", step)
    plain, _ = _run(tmp_path, tmp_path / "pan.mkv", model="bicubic", name="plain.mkv")
    steady, _ = _run(tmp_path, tmp_path / "pan.mkv", name="steady.mkv")
    assert min(_psnr(a, b) for a, b in zip(steady, plain, strict=True)) >= 38
    # what ignoring the motion would have given: the previous frame blended in where it was
    unaligned = (0.5 * plain[1:].astype(np.float64) + 0.5 * plain[:-1]).round()
    assert min(_psnr(a, b) for a, b in zip(unaligned, plain[1:], strict=True)) < 30


SQUARE, SPEED = 16, 3  # a flat square of 16x16 pixels crossing the picture 3 pixels a frame


def _square_over_flicker(path) -> np.ndarray:
    """A still, noisy (flickering) background with a flat, noise-free square moving across it."""
    frames = []
    for i in range(N):
        frame = _texture(1, W, H) + np.random.default_rng(100 + i).integers(-12, 13, (H, W, 3))
        x = 8 + SPEED * i
        frame[16 : 16 + SQUARE, x : x + SQUARE] = (240, 20, 20)
        frames.append(frame)
    return _write(path, frames)


def test_a_moving_edge_stays_sharp_while_the_background_flicker_goes_down(tmp_path):
    _square_over_flicker(tmp_path / "sq.mkv")
    plain, _ = _run(tmp_path, tmp_path / "sq.mkv", model="bicubic", name="plain.mkv")
    steady, _ = _run(tmp_path, tmp_path / "sq.mkv", name="steady.mkv")
    # output (x2) rows and columns of the square in frame i, and of the background it never touches
    rows = slice(2 * 16, 2 * (16 + SQUARE))
    below = slice(2 * (16 + SQUARE) + 8, 2 * H)
    assert _flicker(steady[:, below]) < 0.8 * _flicker(plain[:, below])
    for i in range(1, N):
        cols = slice(2 * (8 + SPEED * i), 2 * (8 + SPEED * i + SQUARE))
        # the square, its moving edges included, is the per-frame output's: nothing of the background
        # it covered a frame ago, nor of where it was, is blended in
        assert _psnr(steady[i, rows, cols], plain[i, rows, cols]) >= 38, i


def test_first_frame_after_a_cut_is_the_per_frame_output(tmp_path):
    _noisy_still(tmp_path / "cut.mkv", cut_at=6)
    plain, _ = _run(tmp_path, tmp_path / "cut.mkv", model="bicubic", name="plain.mkv")
    steady, _ = _run(tmp_path, tmp_path / "cut.mkv", name="steady.mkv")
    assert _psnr(steady[6], plain[6]) >= 45
    assert _psnr(steady[7], plain[7]) < 45  # and the new scene's history starts right away


def test_a_scene_start_resets_the_history():
    """Unit level, where the picture stays the same (the flow alone would happily blend it in)."""
    source = np.random.default_rng(1).integers(0, 256, (3, 24, 32)).astype(np.uint8)
    state = new_state()
    stabilize_frame(torch.zeros(1, 3, 48, 64), source, True, state, 0.5)
    current = torch.ones(1, 3, 48, 64)
    assert torch.equal(stabilize_frame(current, source, True, state, 0.5), current)
    assert stabilize_frame(current * 0.5, source, False, state, 0.5).mean() > 0.55  # unreset: blended


def test_a_cut_the_detector_misses_leaks_nothing_either():
    """Unit level, the history not reset: source agreement alone must keep the new picture's frame."""
    old, new = (_texture(seed, W, H).transpose(2, 0, 1).astype(np.uint8) for seed in (1, 2))
    frame = {
        seed: torch.from_numpy(cv2.resize(_texture(seed, W, H).astype(np.float32) / 255, (2 * W, 2 * H)))
        .permute(2, 0, 1)
        .unsqueeze(0)
        for seed in (1, 2)
    }
    state = new_state()
    for start in (True, False, False):
        stabilize_frame(frame[1], old, start, state, 1.0)
    out = stabilize_frame(frame[2], new, False, state, 1.0)
    as_bytes = [(f[0].permute(1, 2, 0).numpy() * 255).round() for f in (out, frame[2])]
    assert _psnr(*as_bytes) >= 35


def test_the_frame_layout_does_not_matter():
    """A channels-last frame (as some networks return) is blended exactly like a contiguous one."""
    rng = np.random.default_rng(5)
    source = rng.integers(0, 256, (3, 24, 32)).astype(np.uint8)
    frames = [torch.from_numpy(rng.random((1, 3, 48, 64), dtype=np.float32)) for _ in range(2)]
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        state = new_state()
        for i, frame in enumerate(frames):
            out = stabilize_frame(frame.to(memory_format=layout), source, i == 0, state, 0.5)
        results.append(out)
    assert not torch.equal(results[0], frames[1])  # it did blend
    assert torch.equal(*results)


def test_strength_zero_is_the_per_frame_output_exactly(tmp_path, still):
    _noisy_still(tmp_path / "in.mkv")
    _source, plain, _, _, _ = still
    off, _ = _run(tmp_path, tmp_path / "in.mkv", **{"stabilize.strength": 0})
    assert np.array_equal(off, plain)


def test_the_pipeline_runs_stabilize_off_the_calling_thread_with_one_torch_thread(tmp_path, monkeypatch):
    """A team of torch threads spun on the cores the enhance workers fill (docs/BENCHMARKS.md)."""
    import threading

    from models.stabilize import StabilizeEnhancer

    seen = []
    original = StabilizeEnhancer.filter_frame

    def spy(self, *args):
        seen.append((threading.current_thread(), torch.get_num_threads()))
        return original(self, *args)

    monkeypatch.setattr(StabilizeEnhancer, "filter_frame", spy)
    _noisy_still(tmp_path / "in.mkv")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # a team of two, as on the 2-core machine, whatever this one has
    try:
        _run(tmp_path, tmp_path / "in.mkv")
        assert torch.get_num_threads() == 2  # the calling thread's team is left as it was
    finally:
        torch.set_num_threads(before)
    assert len(seen) == N
    assert threading.current_thread() not in {thread for thread, _ in seen}
    assert {threads for _, threads in seen} == {1}


def test_the_enhance_workers_get_the_next_batch_while_stabilize_filters(tmp_path, monkeypatch):
    """The pump does not wait for the stage: a worker left idle per batch cost most of its +34%."""
    import threading

    from app.pipeline.compute import EnhanceStage
    from models.stabilize import StabilizeEnhancer

    submitted = []
    fourth_batch = threading.Event()
    original_submit, original_filter = EnhanceStage.submit_tensor, StabilizeEnhancer.filter_frame

    def submit(self, pixels, enhancer):
        submitted.append(len(pixels))
        if len(submitted) == 4:
            fourth_batch.set()
        return original_submit(self, pixels, enhancer)

    def filter_frame(self, *args):
        # one frame a batch, two batches in flight: a pump that waited for the stage would hand out no
        # batch while the first frame is filtered (three at most by then); one that does not wait hands
        # out the fourth meanwhile
        assert fourth_batch.wait(timeout=30), "the pump waited for the stage"
        return original_filter(self, *args)

    monkeypatch.setattr(EnhanceStage, "submit_tensor", submit)
    monkeypatch.setattr(StabilizeEnhancer, "filter_frame", filter_frame)
    monkeypatch.setattr("app.pipeline.compute.cpu_workers", lambda: 2)  # as on any machine
    _noisy_still(tmp_path / "in.mkv")
    out = tmp_path / "out.mkv"
    opts = EnhanceOptions(model="bicubic+stabilize", codec="ffv1", batch=1, model_options=X2)
    enhance_file(tmp_path / "in.mkv", out, opts)
    assert len(_decode(out)[0]) == N


def test_a_stage_failing_mid_video_fails_the_run_and_leaves_no_output(tmp_path, monkeypatch):
    from models.stabilize import StabilizeEnhancer

    calls = []
    original = StabilizeEnhancer.filter_frame

    def fail_at_the_fourth(self, *args):
        calls.append(1)
        if len(calls) == 4:
            raise MemoryError("out of memory in the stage")
        return original(self, *args)

    monkeypatch.setattr(StabilizeEnhancer, "filter_frame", fail_at_the_fourth)
    _noisy_still(tmp_path / "in.mkv")
    with pytest.raises(MemoryError, match="in the stage"):
        _run(tmp_path, tmp_path / "in.mkv")
    assert not list(tmp_path.glob("out*"))


def test_registry_and_models_endpoint_list_stabilize(tmp_path):
    from app import create_app

    spec = get_spec("stabilize")
    assert (spec.task, spec.scale, spec.weights, spec.window) == ("temporal", 1, (), (1, 0))
    assert has_temporal_stage("realesr-animevideov3+stabilize")
    client = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}}).test_client()
    body = client.get("/models").get_json()
    entry = {m["name"]: m for m in (body["models"] if isinstance(body, dict) else body)}["stabilize"]
    assert (entry["task"], entry["ready"]) == ("temporal", True)
    assert entry["description"]
    assert entry["options"]["strength"] | {"description": ""} == {
        "default": 0.5, "description": "", "type": "number", "minimum": 0.0, "maximum": 1.0,
    }  # fmt: skip


def test_cli_runs_bicubic_plus_stabilize(tmp_path):
    _noisy_still(tmp_path / "in.mkv")
    out = tmp_path / "out.mkv"
    result = flask(
        "enhance", str(tmp_path / "in.mkv"), "-o", str(out), "--model", "bicubic+stabilize",
        "--model-option", "bicubic.scale=2", "--model-option", "stabilize.strength=0.5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(_decode(out)[0]) == N


def test_the_gpu_warp_matches_the_cpu_warp():
    """The grid_sample path (used on GPUs) and the OpenCV path (CPU) blend the same frame, run on the CPU."""
    from models.stabilize import _blend, _blend_on_device

    rng = np.random.default_rng(4)
    state = new_state()
    state.output = torch.from_numpy(rng.random((1, 3, 48, 64), dtype=np.float32))
    current = torch.from_numpy(rng.random((1, 3, 48, 64), dtype=np.float32))
    backward = rng.uniform(-2, 2, (24, 32, 2)).astype(np.float32)
    mask = rng.random((24, 32), dtype=np.float32)
    cpu = _blend(current, state, backward, mask, 0.5)
    device = _blend_on_device(current, state, backward, mask, 0.5)
    assert not torch.allclose(cpu, current, atol=0.01)  # it did blend
    assert (cpu - device).abs().max() < 0.01
