"""The enhancer cache: keyed by what changes the weights, bounded, tile size a per-call setting."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from models import registry, weights
from models.registry import cached_count, load_enhancer, set_cache_size
from tests.conftest import SHARED_WEIGHTS, needs_shared


@pytest.fixture(autouse=True)
def cache_of_two():
    registry.clear_cache()
    set_cache_size(2)
    yield
    set_cache_size(2)
    registry.clear_cache()


@needs_shared("weights/realesr-animevideov3.pth")
def test_fifty_tile_sizes_share_one_network():
    weights.set_search_path([SHARED_WEIGHTS])
    frames = torch.rand(1, 3, 40, 56)
    first = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32", tile=0)
    whole = first.process(frames)
    for tile in range(32, 82):
        enhancer = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32", tile=tile)
        assert enhancer.tile == tile and enhancer.net is first.net  # the same weights, its own tile
    assert cached_count() == 1
    tiled = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32", tile=32).process(frames)
    assert torch.allclose(tiled, whole, atol=1e-5)  # the tile changes how frames are cut, not the result
    assert first.tile == 0  # another call's tile never leaked into this one


def test_least_recently_used_network_is_evicted_and_freed():
    a = load_enhancer("bicubic", device="cpu", options={"scale": 2})
    gone = weakref.ref(a)
    load_enhancer("lanczos", device="cpu", options={"scale": 2})
    load_enhancer("bicubic", device="cpu", options={"scale": 3})  # a weight-changing option: another entry
    assert cached_count() == 2
    del a
    gc.collect()
    assert gone() is None  # evicted and nobody holds it: its memory is back
    kept = load_enhancer("lanczos", device="cpu", options={"scale": 2})
    assert cached_count() == 2 and kept.scale == 2


def test_the_cache_size_is_a_setting():
    for scale in (2, 3, 4):
        load_enhancer("bicubic", device="cpu", options={"scale": scale})
    assert cached_count() == 2
    set_cache_size(1)
    assert cached_count() == 1
    with pytest.raises(ValueError):
        set_cache_size(0)


def test_enhance_model_cache_reaches_the_worker(tmp_path):
    from app.config import Settings
    from app.jobs.runner import prepare_worker

    settings = Settings.from_env({"ENHANCE_MODEL_CACHE": "1", "ENHANCE_DEVICE": "cpu"})
    assert settings.model_cache == 1
    for scale in (2, 3):
        load_enhancer("bicubic", device="cpu", options={"scale": scale})
    prepare_worker(settings)
    assert cached_count() == 1
