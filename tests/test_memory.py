"""Memory stays flat in video length: the pipeline streams, it never holds the whole video."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO
from tests.media import make_video

# the bench's reading (VmHWM, not ru_maxrss, which a vfork'ed child inherits from pytest: see peak_rss_mb)
PEAK_RSS = """
import sys
from app.bench.child import peak_rss_mb
from app.pipeline import EnhanceOptions, enhance_file
enhance_file(sys.argv[1], sys.argv[2], EnhanceOptions(model=sys.argv[3], batch=4, model_options={"scale": 2}))
print(peak_rss_mb())
"""


def peak_rss_mib(src, dst, model: str) -> float:
    """Peak resident memory of a fresh process that enhances ``src``."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(src), str(dst), model],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return float(out.stdout.split()[-1])


def test_peak_memory_flat_for_10x_longer_video(tmp_path):
    short = make_video(tmp_path / "short.mp4", width=160, height=120, frames=24)
    long = make_video(tmp_path / "long.mp4", width=160, height=120, frames=240)
    a = peak_rss_mib(short, tmp_path / "a.mp4", "bicubic")
    b = peak_rss_mib(long, tmp_path / "b.mp4", "bicubic")
    assert b <= a * 1.15, f"peak RSS {a:.1f} MiB for 24 frames, {b:.1f} MiB for 240 frames"


def test_peak_memory_flat_for_10x_longer_video_with_a_temporal_stage(tmp_path):
    """stabilize last (issue 12): a recursive stage holds a source frame, its previous output and a 2-frame
    window per video, whatever its length (app/pipeline/temporal.py WindowStream)."""
    short = make_video(tmp_path / "short.mp4", width=160, height=120, frames=24)
    long = make_video(tmp_path / "long.mp4", width=160, height=120, frames=240)
    a = peak_rss_mib(short, tmp_path / "a.mp4", "bicubic+stabilize")
    b = peak_rss_mib(long, tmp_path / "b.mp4", "bicubic+stabilize")
    assert b <= a * 1.15, f"peak RSS {a:.1f} MiB for 24 frames, {b:.1f} MiB for 240 frames"
