"""The README's curl session works as written, against a real server."""

from __future__ import annotations

import os
import re
import subprocess

from tests.conftest import REPO, SHARED, needs_shared
from tests.media import read_video
from tests.server import Server


def readme_block(marker: str) -> str:
    """The fenced code block between ``<!-- marker -->`` and ``<!-- /marker -->`` in README.md."""
    text = (REPO / "README.md").read_text()
    section = text.split(f"<!-- {marker}")[1].split(f"<!-- /{marker} -->")[0]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


@needs_shared("media/onepiece_demo.mp4")
def test_readme_curl_session(tmp_path):
    script = readme_block("curl-session")
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(SHARED)  # the block uses ../shared like a user in the repo root
    server = Server(tmp_path / "data").start()
    try:
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=work,
            capture_output=True,
            text=True,
            env={**os.environ, "BASE": server.url},
            timeout=600,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        info = read_video(work / "onepiece_demo-lut3d.mp4")
        assert (
            info["frames"] == 48
            and (info["width"], info["height"]) == (640, 480)
            and info["audio"] == ["aac"]
        )
    finally:
        server.stop()
