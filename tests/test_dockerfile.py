"""The Dockerfile cannot be built here (no Docker engine): it is linted instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_dockerfile_lints_clean():
    hadolint = Path(sys.executable).with_name("hadolint")
    run = subprocess.run([str(hadolint), "Dockerfile"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (REPO / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text and 'VOLUME ["/data", "/weights"]' in text
