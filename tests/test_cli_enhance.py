"""``flask enhance`` run as a user runs it: exit codes, messages, no partial output files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, SHARED_WEIGHTS
from tests.media import make_audio_only, make_video, read_video

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
