"""glibc keeps frame-sized buffers in the process between frames (app/pipeline/allocator.py)."""

import subprocess
import sys
import textwrap

import pytest

from app.pipeline import EnhanceOptions, allocator, enhance_file
from tests.media import make_video

# a fresh interpreter for each case: the thresholds are process-wide and cannot be put back
_FREED_BUFFERS_STAY = textwrap.dedent(
    """
    import sys
    import numpy as np
    from app.pipeline.allocator import keep_frame_buffers

    def resident_mib():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    applied = keep_frame_buffers() if sys.argv[1] == "tuned" else False
    before = resident_mib()
    frames = [np.ones((3, 480, 640), np.float32) * i for i in range(24)]  # 24 frames of 3.5 MiB, touched
    del frames
    print(applied, round(resident_mib() - before))
    """
)


def _kept_after_free(mode: str) -> tuple[str, int]:
    """(whether the thresholds were raised, MiB still resident after the frames were freed)."""
    out = subprocess.run(
        [sys.executable, "-c", _FREED_BUFFERS_STAY, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_frame_buffers_stay_in_the_process_for_the_next_frames():
    applied, kept = _kept_after_free("tuned")
    assert applied == "True"
    assert kept >= 60  # the 84 MiB of frames are reused by the next ones, not faulted in again
    applied, kept = _kept_after_free("default")
    assert applied == "False"
    assert kept < 20  # glibc's default: each buffer was an mmap of its own, handed back on free


def test_an_operator_s_own_malloc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    allocator.keep_frame_buffers.cache_clear()
    try:
        assert allocator.keep_frame_buffers() is False
    finally:
        allocator.keep_frame_buffers.cache_clear()


def test_every_video_run_raises_the_thresholds(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("app.pipeline.video.keep_frame_buffers", lambda: calls.append(1) or True)
    src = make_video(tmp_path / "in.mp4", frames=4)
    enhance_file(src, tmp_path / "out.mp4", EnhanceOptions(model="bicubic", model_options={"scale": 1}))
    assert calls == [1]
