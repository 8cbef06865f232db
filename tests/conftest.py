"""Shared fixtures: where ../shared lives, and a clean model environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SHARED_WEIGHTS = SHARED / "weights"
SHARED_MEDIA = SHARED / "media"


def needs_shared(*relpaths: str):
    """Skip (with the reason) when a file from ../shared is absent."""
    missing = [p for p in relpaths if not (SHARED / p).exists()]
    return pytest.mark.skipif(bool(missing), reason=f"../shared lacks {', '.join(missing)}")


@pytest.fixture(autouse=True)
def _weights_env(monkeypatch):
    """Every test sees the real shared weights and no licence opt-in unless it sets one."""
    monkeypatch.setenv("ENHANCE_WEIGHTS_PATH", str(SHARED_WEIGHTS))
    monkeypatch.delenv("ENHANCE_ALLOW_NONCOMMERCIAL", raising=False)
    monkeypatch.delenv("ENHANCE_MAX_OUTPUT_PIXELS", raising=False)
    yield


@pytest.fixture
def fresh_registry():
    """Never reuse an enhancer built by another test (tests swap weights files under the same name)."""
    from models import registry

    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.fixture
def shared_media() -> Path:
    """The folder of sample media in ../shared."""
    return SHARED_MEDIA


os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
