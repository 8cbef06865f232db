"""Memory stays flat in video length: the pipeline streams, it never holds the whole video."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO
from tests.media import make_video

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec from the replaced address space, which for a
# vfork'ed child is pytest's own, so both runs would report at least pytest's peak and always look flat.
PEAK_RSS = """
import sys
from app.pipeline import EnhanceOptions, enhance_file
enhance_file(sys.argv[1], sys.argv[2], EnhanceOptions(model=sys.argv[3], batch=4, model_options={"scale": 2}))
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def peak_rss_kib(src, dst, model: str) -> int:
    """Peak resident memory of a fresh process that enhances ``src``."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(src), str(dst), model],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return int(out.stdout.split()[-1])


def test_peak_memory_flat_for_10x_longer_video(tmp_path):
    short = make_video(tmp_path / "short.mp4", width=160, height=120, frames=24)
    long = make_video(tmp_path / "long.mp4", width=160, height=120, frames=240)
    a = peak_rss_kib(short, tmp_path / "a.mp4", "bicubic")
    b = peak_rss_kib(long, tmp_path / "b.mp4", "bicubic")
    assert b <= a * 1.15, f"peak RSS {a} KiB for 24 frames, {b} KiB for 240 frames"
