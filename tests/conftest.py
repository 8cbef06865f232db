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


def _configure_libraries() -> None:
    """What the app factory hands down, at the test defaults: models/ and the pipeline never read the env."""
    from app.config import Limits
    from app.pipeline import limits
    from models import registry, weights

    weights.set_search_path([SHARED_WEIGHTS])
    registry.set_allow_noncommercial(False)
    limits.configure(Limits())


@pytest.fixture(autouse=True)
def _weights_env(monkeypatch):
    """Every test sees the real shared weights, no licence opt-in and the default limits unless it sets its
    own: in this process (library calls) and in the environment (create_app and subprocesses)."""
    monkeypatch.setenv("ENHANCE_WEIGHTS_PATH", str(SHARED_WEIGHTS))
    monkeypatch.delenv("ENHANCE_ALLOW_NONCOMMERCIAL", raising=False)
    monkeypatch.delenv("ENHANCE_MAX_OUTPUT_PIXELS", raising=False)
    _configure_libraries()
    yield
    _configure_libraries()  # a test's create_app or opt-in must not leak into the next test


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
