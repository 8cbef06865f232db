"""The fast path's parts and `flask bench`: correctness only (speed figures live in docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
import torch
from spandrel.architectures.Compact import Compact

from app.bench.child import steady_fps
from app.bench.flops import forward_flops, srvgg_flops_per_pixel
from app.pipeline.compute import auto_batch, last_level_cache_bytes, pin_single_thread
from app.pipeline.encoders import encoder_options, nvenc_usable, pick_encoder
from app.pipeline.frames import frame_to_planes, new_planes, planes_to_tensor, tensor_to_frames
from models.base import EnhancerInfo
from models.device import cpu_has_native_bf16
from models.realesrgan import PRE_PAD, VARIANTS, RealESRGANEnhancer
from tests.conftest import REPO, SHARED_WEIGHTS, needs_shared
from tests.media import gradient_frame, make_video, read_video


def test_workers_get_one_thread_and_the_caller_keeps_its_own():
    before = torch.get_num_threads()
    with ThreadPoolExecutor(2) as pool:
        pin_single_thread(pool, 2)
        seen = set(pool.map(lambda _: torch.get_num_threads(), range(8)))
        # a real parallel op in a worker must not re-initialise its team from the process default
        seen |= set(
            pool.map(
                lambda _: (torch.rand(512, 512) @ torch.rand(512, 512), torch.get_num_threads())[1], range(4)
            )
        )
    assert seen == {1}
    assert torch.get_num_threads() == before


def _yuv_frame(width=48, height=32, index=3):
    return av.VideoFrame.from_ndarray(gradient_frame(width, height, index), format="rgb24").reformat(
        format="yuv420p"
    )


def test_planar_decode_matches_packed_rgb():
    frame = _yuv_frame()
    planes = new_planes(1, 32, 48, 8)
    frame_to_planes(frame, 8, planes[0])
    assert np.array_equal(planes[0].transpose(1, 2, 0), frame.to_ndarray(format="rgb24"))


def test_a_frame_of_another_size_is_scaled_to_the_batch():
    planes = new_planes(1, 32, 48, 8)
    frame_to_planes(_yuv_frame(64, 40), 8, planes[0])
    want = _yuv_frame(64, 40).reformat(width=48, height=32, format="rgb24").to_ndarray()
    assert np.abs(planes[0].transpose(1, 2, 0).astype(int) - want).mean() < 8  # scalers differ a little


def test_planar_decode_16_bit():
    frame = av.VideoFrame.from_ndarray(gradient_frame(48, 32, 1), format="rgb24").reformat(
        format="yuv420p10le"
    )
    planes = new_planes(1, 32, 48, 16)
    frame_to_planes(frame, 16, planes[0])
    assert planes.dtype == np.uint16
    assert np.array_equal(planes[0].transpose(1, 2, 0), frame.to_ndarray(format="rgb48le"))


@pytest.mark.parametrize("bits", [8, 16])
def test_integers_survive_tensor_and_frames_exactly(bits):
    peak = 65535 if bits > 8 else 255
    rng = np.random.default_rng(0)
    planes = rng.integers(0, peak + 1, size=(2, 3, 20, 30)).astype(np.uint16 if bits > 8 else np.uint8)
    tensor = planes_to_tensor(planes, torch.device("cpu"))
    assert tensor.dtype == torch.float32 and tensor.shape == (2, 3, 20, 30)
    frames = tensor_to_frames(tensor, bits)
    fmt = "rgb48le" if bits > 8 else "rgb24"
    for i, frame in enumerate(frames):
        assert np.array_equal(frame.to_ndarray(format=fmt), planes[i].transpose(1, 2, 0))


@pytest.mark.parametrize("bits", [8, 16])
def test_integer_results_from_the_device_become_frames(bits):
    # what tensor_to_host hands the encoder on CUDA: uint8, or int32 for 16-bit
    rng = np.random.default_rng(1)
    peak = 65535 if bits > 8 else 255
    ints = torch.from_numpy(rng.integers(0, peak + 1, size=(1, 3, 6, 8)).astype(np.int32))
    ints = ints if bits > 8 else ints.to(torch.uint8)
    (frame,) = tensor_to_frames(ints, bits)
    got = frame.to_ndarray(format="rgb48le" if bits > 8 else "rgb24")
    assert np.array_equal(got, ints[0].permute(1, 2, 0).numpy())


def test_frames_from_channels_last_bf16_round_and_clamp():
    values = torch.tensor([-0.2, 0.0, 0.4 / 255, 0.6 / 255, 100.4 / 255, 1.0, 1.3])
    batch = values.view(1, 1, 1, -1).expand(1, 3, 2, -1).contiguous(memory_format=torch.channels_last)
    (frame,) = tensor_to_frames(batch, 8)
    assert frame.to_ndarray(format="rgb24")[0, :, 0].tolist() == [0, 0, 0, 1, 100, 255, 255]
    (frame,) = tensor_to_frames(torch.full((1, 3, 2, 2), 0.5).bfloat16(), 8)
    assert (frame.to_ndarray(format="rgb24") == 128).all()  # 127.5 rounds up in fp32


def test_auto_batch_keeps_every_workers_batch_in_the_cache():
    cache = last_level_cache_bytes()
    assert cache >= 1 << 20
    for w, h in ((64, 48), (160, 120), (640, 360), (3840, 2160)):
        n = auto_batch(w, h, "cpu", workers=2, pixel_bytes=256)
        assert 1 <= n <= 16
        assert n == 1 or 2 * n * w * h * 256 <= cache
    assert auto_batch(160, 120, "cuda") == 16


def test_steady_rate_leaves_out_the_first_frames_and_the_final_report():
    stamps = [(4, 10.0), (8, 11.0), (12, 12.0), (16, 13.0), (16, 20.0)]
    assert steady_fps(stamps) == pytest.approx(4.0)  # (16 - 8) / (13 - 11)
    assert steady_fps([(4, 1.0), (8, 2.0)]) is None


def test_flop_count_matches_the_srvgg_formula_on_the_padded_frame():
    variant = VARIANTS["realesr-animevideov3"]
    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu").eval()
    info = EnhancerInfo(name=variant.name, task="upscale", scale=4.0, licence="test")
    enhancer = RealESRGANEnhancer(info, torch.device("cpu"), torch.float32, 0, net, variant)
    flops = forward_flops(enhancer, 40, 24)
    assert flops == srvgg_flops_per_pixel() * (40 + PRE_PAD) * (24 + PRE_PAD)


def test_encoder_on_the_cpu_is_single_threaded_x264():
    assert pick_encoder("h264", "cpu", 8) == "libx264"
    assert encoder_options("libx264", 18, "veryfast", "cpu")["threads"] == "1"
    assert "threads" not in encoder_options("libx264", 18, "veryfast", "cuda")
    assert "threads" not in encoder_options("libx264", 18, "veryfast", "cpu", pixels=3840 * 2160)
    assert encoder_options("libx264", 18, "veryfast", "cpu", no_bframes=True)["bf"] == "0"
    nvenc = encoder_options("h264_nvenc", 20, "veryfast", "cuda", no_bframes=True)
    assert nvenc["cq"] == "20" and nvenc["bf"] == "0" and nvenc["preset"].startswith("p")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without a GPU")
def test_without_a_gpu_nvenc_is_not_chosen():
    assert nvenc_usable() is False
    assert pick_encoder("h264", "cuda", 8) == "libx264"


@needs_shared("weights/realesr-animevideov3.pth")
@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_auto_precision_is_bf16_channels_last_through_the_network(fresh_registry):
    from models import load_enhancer

    enhancer = load_enhancer("realesr-animevideov3", device="cpu")
    assert enhancer.dtype == torch.bfloat16
    for p in enhancer.net.parameters():
        assert p.dtype == torch.bfloat16
        if p.dim() == 4:
            assert p.is_contiguous(memory_format=torch.channels_last)
    seen = []
    hook = enhancer.net.body[0].register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    try:
        enhancer.process(torch.rand(1, 3, 24, 32))
    finally:
        hook.remove()
    ((x, out),) = seen
    assert x.dtype == out.dtype == torch.bfloat16
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_eight_bit_colours_survive_the_pipeline(tmp_path):
    from app.pipeline import EnhanceOptions, enhance_file

    src = make_video(tmp_path / "in.mp4", width=64, height=48, frames=4, audio=None)
    out = tmp_path / "out.mp4"
    enhance_file(src, out, EnhanceOptions(model="bicubic", model_options={"scale": 1}, crf=0, batch=3))
    before, after = read_video(src), read_video(out)
    diff = np.abs(before["first_frame"].astype(int) - after["first_frame"].astype(int))
    assert diff.mean() < 1.5 and after["frames"] == 4


def test_flask_bench_prints_tables_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "ENHANCE_WEIGHTS_PATH": str(SHARED_WEIGHTS)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "bench",
            "--models",
            "bicubic",
            "--sizes",
            "48x32",
            "--frames",
            "16",
            "--matmul-sizes",
            "256",
            "--json",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "model-only fps" in run.stdout and "matmul peak" in run.stdout
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["model"] == "bicubic" and row["input"] == "48x32" and row["output"] == "192x128"
    assert row["model_fps"] > 0
    assert row["e2e"]["frames"] == 16 and row["e2e"]["audio_kept"] is True and row["e2e"]["steady_fps"] > 0
    assert (
        row["naive"]["frames"] == 16 and row["naive"]["steady_fps"] > 0 and row["naive"]["network"] == "model"
    )
    assert row["speedup"] == pytest.approx(row["e2e"]["steady_fps"] / row["naive"]["steady_fps"])
    (mem,) = result["memory"]
    assert mem["frames"] == [16, 160] and all(v > 0 for v in mem["peak_rss_mb"])
    assert result["peak"]["fp32"]["flops"] > 0


def test_flask_bench_refuses_a_bad_size():
    run = subprocess.run(
        [sys.executable, "-m", "flask", "bench", "--sizes", "160by120"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "WIDTHxHEIGHT" in run.stderr
