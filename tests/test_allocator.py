"""glibc keeps frame-sized buffers in the process between frames (app/allocator.py, set as the app loads)."""

import subprocess
import sys
import textwrap

import pytest

from app import allocator

# a fresh interpreter for each case: the thresholds are process-wide and cannot be put back
_FREED_BUFFERS_STAY = textwrap.dedent(
    """
    import sys
    if sys.argv[1] == "service":
        import app  # what every entry point of the service does first
    import numpy as np

    def resident_mib():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    applied = sys.argv[1] == "service" and sys.modules["app.allocator"].keep_frame_buffers()
    before = resident_mib()
    frames = [np.ones((3, 480, 640), np.float32) * i for i in range(24)]  # 24 frames of 3.5 MiB, touched
    del frames
    print(applied, round(resident_mib() - before))
    """
)


def _kept_after_free(process: str) -> tuple[str, int]:
    """(whether the thresholds were raised, MiB still resident after the frames were freed)."""
    out = subprocess.run(
        [sys.executable, "-c", _FREED_BUFFERS_STAY, process], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_service_process_keeps_freed_frame_buffers_for_the_next_frames():
    applied, kept = _kept_after_free("service")
    assert applied == "True"
    assert kept >= 60  # the 84 MiB of frames are reused by the next ones, not faulted in again
    applied, kept = _kept_after_free("plain")
    assert applied == "False"
    assert kept < 20  # glibc's default: each buffer was an mmap of its own, handed back on free


def test_an_operator_s_own_malloc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    allocator.keep_frame_buffers.cache_clear()
    try:
        assert allocator.keep_frame_buffers() is False
    finally:
        allocator.keep_frame_buffers.cache_clear()
