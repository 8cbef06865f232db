"""``flask enhance`` run as a user runs it: exit codes, messages, no partial output files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import REPO, SHARED_WEIGHTS
from tests.media import gradient_frame, make_audio_only, make_video, read_video

FLASK = [sys.executable, "-m", "flask"]


def flask(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``flask ARGS`` from the repo root like a user would (``.flaskenv`` finds the app)."""
    full_env = {**os.environ, "ENHANCE_WEIGHTS_PATH": str(SHARED_WEIGHTS), **(env or {})}
    return subprocess.run(
        [*FLASK, *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300
    )


def test_enhance_video_with_a_baseline(tmp_path):
    src = make_video(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic", "--model-option", "scale=2")
    assert result.returncode == 0, result.stderr
    info = read_video(out)
    assert (info["width"], info["height"], info["frames"], info["audio"]) == (128, 96, 8, ["aac"])


def _random(p: Path):
    p.write_bytes(np.random.default_rng(1).bytes(4096))


def _text(p: Path):
    p.write_text("hello, I am not a video\n")


def _truncated(p: Path):
    good = make_video(p.with_name("good.mp4"))
    p.write_bytes(good.read_bytes()[:1500])


@pytest.mark.parametrize(
    ("maker", "words"),
    [
        (_random, "not a video"),
        (_text, "not a video"),
        (_truncated, ""),
        (make_audio_only, "no video stream"),
    ],
    ids=["random-bytes", "text-file", "truncated-mp4", "audio-only"],
)
def test_hostile_input_exits_2_without_output(tmp_path, maker, words):
    src = tmp_path / "input.mp4"
    maker(src)
    out = tmp_path / "out.mp4"
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_pixel_limit_exits_2(tmp_path):
    src = make_video(tmp_path / "in.mp4", audio=None)
    out = tmp_path / "out.mp4"
    result = flask(
        "enhance",
        str(src),
        "-o",
        str(out),
        "--model",
        "realesr-animevideov3",
        env={"ENHANCE_MAX_OUTPUT_PIXELS": "40000"},
    )
    assert result.returncode == 2
    assert "256x192" in result.stderr and "ENHANCE_MAX_OUTPUT_PIXELS" in result.stderr
    assert not out.exists()


def test_unknown_model_exits_2_and_names_the_allowed(tmp_path):
    src = make_video(tmp_path / "in.mp4", audio=None)
    result = flask("enhance", str(src), "-o", str(tmp_path / "o.mp4"), "--model", "nope")
    assert result.returncode == 2
    assert "unknown model 'nope'" in result.stderr and "lut3d" in result.stderr


def test_missing_weights_exits_2_and_names_the_fix(tmp_path):
    src = make_video(tmp_path / "in.mp4", audio=None)
    result = flask(
        "enhance",
        str(src),
        "-o",
        str(tmp_path / "o.mp4"),
        "--model",
        "realesrgan-x4plus",
        env={"ENHANCE_WEIGHTS_PATH": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "RealESRGAN_x4plus.pth" in result.stderr and "flask weights download" in result.stderr


def test_noncommercial_model_needs_opt_in(tmp_path):
    src = make_video(tmp_path / "in.mp4", audio=None)
    out = tmp_path / "o.mp4"
    refused = flask("enhance", str(src), "-o", str(out), "--model", "zero-dce")
    assert refused.returncode == 2 and "ENHANCE_ALLOW_NONCOMMERCIAL=1" in refused.stderr
    accepted = flask(
        "enhance", str(src), "-o", str(out), "--model", "zero-dce", env={"ENHANCE_ALLOW_NONCOMMERCIAL": "1"}
    )
    assert accepted.returncode == 0, accepted.stderr
    assert read_video(out)["frames"] == 8


def test_folder_of_clips(tmp_path):
    src_dir = tmp_path / "clips"
    src_dir.mkdir()
    make_video(src_dir / "a.mp4", audio=None)
    make_video(src_dir / "b.mkv", audio=None, frames=3)
    result = flask("enhance", str(src_dir), "-o", str(tmp_path / "done"), "--model", "bicubic")
    assert result.returncode == 0, result.stderr
    assert read_video(tmp_path / "done" / "a.mp4")["frames"] == 8
    assert read_video(tmp_path / "done" / "b.mkv")["frames"] == 3


def _image(path: Path) -> Path:
    """A tiny PNG."""
    cv2.imwrite(str(path), cv2.cvtColor(gradient_frame(24, 16, 0), cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize(
    ("make_input", "output", "extra", "words"),
    [
        (_image, "out.mp4", (), "an image input makes an image output: name the output .png"),
        (make_video, "out.png", (), "a video input makes a video output: name the output .mp4"),
        (make_video, "out.avi", (), "cannot write video as .avi: name the output .mp4, .mkv, .mov or .webm"),
        (make_video, "out.mp4", ("--codec", "ffv1"), "ffv1 cannot be stored in .mp4: name the output .mkv"),
        (make_video, "out.webm", ("--codec", "h264"), "h264 cannot be stored in .webm"),
    ],
    ids=["image-to-mp4", "video-to-png", "avi", "ffv1-in-mp4", "h264-in-webm"],
)
def test_output_that_cannot_be_written_exits_2_in_one_line(tmp_path, make_input, output, extra, words):
    src = make_input(tmp_path / ("in.png" if make_input is _image else "in.mp4"))
    out = tmp_path / output
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic", *extra)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]  # no output, no temporary file


def test_webm_without_codec_is_vp9_and_keeps_the_audio(tmp_path):
    src = make_video(tmp_path / "in.mp4")  # H.264 + AAC: the AAC must be transcoded (WebM holds Opus/Vorbis)
    out = tmp_path / "out.webm"
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic", "--model-option", "scale=1")
    assert result.returncode == 0, result.stderr
    info, before = read_video(out), read_video(src)
    assert (info["codec"], info["audio"], info["frames"]) == ("vp9", ["opus"], 8)
    assert info["audio_seconds"][0] == pytest.approx(before["audio_seconds"][0], abs=0.05)


def test_odd_sized_444_input_keeps_its_size_and_chroma(tmp_path):
    src = make_video(tmp_path / "in.mp4", width=161, height=121, pix_fmt="yuv444p", audio=None)
    out = tmp_path / "out.mp4"
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic", "--model-option", "scale=1")
    assert result.returncode == 0, result.stderr
    info = read_video(out)
    assert (info["codec"], info["width"], info["height"], info["pix_fmt"]) == ("h264", 161, 121, "yuv444p")


PROGRESS_LINE = re.compile(r"^in\.mp4: (\d+)/96 frames \(\d+%\), \d+\.\d fps, ETA \d+:\d\d:\d\d$")


def test_progress_lines_when_stderr_is_not_a_terminal_and_no_warnings(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=96, audio=None)
    out = tmp_path / "out.mp4"
    # stderr is a pipe here, as when it goes to a log file or CI; bicubic x4 stands in for an SR model
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    matched = [PROGRESS_LINE.match(line) for line in lines]
    assert all(matched), lines  # nothing else on stderr: no dependency warning either
    done = [int(m.group(1)) for m in matched]
    assert len(done) >= 9 and done == sorted(done) and done[-1] == 96
    assert "Warning" not in result.stdout


def test_models_listing_has_no_dependency_warning():
    result = flask("models")
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Warning" not in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_enhance_device_follows_enhance_device_and_never_falls_back(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "out.mp4"
    result = flask("enhance", str(src), "-o", str(out), "--model", "bicubic", env={"ENHANCE_DEVICE": "cuda"})
    assert result.returncode == 2 and "CUDA is not available" in result.stderr, result.stderr
    assert not out.exists()
    explicit = flask(
        "enhance",
        str(src),
        "-o",
        str(out),
        "--model",
        "bicubic",
        "--device",
        "cpu",
        env={"ENHANCE_DEVICE": "cuda"},
    )
    assert explicit.returncode == 0, explicit.stderr  # the flag wins over the variable


def test_h265_of_tiny_frames_is_refused_before_x265_can_crash(tmp_path):
    """x265 corrupts the heap on frames like 34x22 (the whole process aborts): refused up front instead."""
    src = make_video(tmp_path / "tiny.mp4", width=34, height=22, frames=4)
    out = tmp_path / "out.mp4"
    scale_1 = ("--model", "bicubic", "--model-option", "scale=1")
    refused = flask("enhance", str(src), "-o", str(out), *scale_1, "--codec", "h265")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--codec" in refused.stderr and "h264" in refused.stderr and not out.exists()
    upscaled = flask("enhance", str(src), "-o", str(out), "--model", "bicubic", "--codec", "h265")  # 136x88
    assert upscaled.returncode == 0, upscaled.stderr
