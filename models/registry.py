"""Build enhancers by name: ``load_enhancer`` turns a model, a chain ``a+b+c`` or a ``.pth`` path into a
network on a device, and keeps a bounded cache of them.

What models exist (their declarations, chains, options, licences) is ``models.specs``, which imports no
torch; its names are re-exported here for the callers that build networks anyway.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict

import torch

from .base import Enhancer
from .device import resolve_device, resolve_precision
from .errors import BadOption
from .licence import noncommercial_allowed, set_allow_noncommercial  # noqa: F401 - the app sets it here
from .specs import (  # noqa: F401 - re-exported: the registry's public names
    ENTRY_POINT_GROUP,
    TASKS,
    ModelSpec,
    all_specs,
    chain_scale,
    check_licence,
    get_spec,
    has_temporal_stage,
    is_model_path,
    link_options,
    register,
    resolve_chain,
    split_chain,
    validate_model_options,
)

_load_lock = threading.Lock()
#: loaded networks, least recently used first; keyed by what changes the weights (never by tile size)
_cache: OrderedDict[tuple, Enhancer] = OrderedDict()
#: how many networks a process keeps loaded (ENHANCE_MODEL_CACHE, set by the app through ``set_cache_size``)
_cache_size = 2


def load_enhancer(
    name: str,
    *,
    device: str | torch.device = "auto",
    precision: str = "auto",
    tile: int = 0,
    options: dict | None = None,
) -> Enhancer:
    """The enhancer ``name`` (a model, a chain ``a+b`` or a ``.pth`` path) with ``tile``, from the cache.

    The cache holds networks, keyed by model, device, dtype and the options that change the weights; the
    tile size only changes how frames are cut, so each call gets its own light copy sharing the network.
    Every distinct ``tile`` a client sends therefore costs nothing, and the cache stays bounded.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    dtype = resolve_precision(precision, dev)
    if tile < 0:
        raise BadOption("{field} must be >= 0 (0 = automatic)", field="tile")
    with _load_lock:
        links = resolve_chain(name)
        per_link = link_options(links, options)
        # keyed by the parsed values: "2" from a form and 2.0 from Python are the same enhancer
        key = (name, str(dev), dtype, tuple(tuple(sorted(o.items())) for o in per_link))
        enhancer = _cache.get(key)
        if enhancer is None:
            built = [_build_link(link, dev, dtype, 0, o) for link, o in zip(links, per_link, strict=True)]
            if len(built) == 1:
                enhancer = built[0]
            else:
                from .chain import ChainEnhancer

                enhancer = ChainEnhancer(name, built)
            _cache[key] = enhancer
            _evict(keep=_cache_size)
        _cache.move_to_end(key)
        return enhancer.with_tile(tile)


def set_cache_size(size: int) -> None:
    """Keep at most ``size`` networks loaded in this process (least recently used evicted first)."""
    global _cache_size
    if size < 1:
        raise ValueError("the model cache must hold at least one network")
    with _load_lock:
        _cache_size = size
        _evict(keep=size)


def cached_count() -> int:
    """How many networks this process holds loaded now."""
    return len(_cache)


def _evict(keep: int) -> None:
    """Drop the least recently used networks beyond ``keep``, giving their memory back (lock held).

    A job still running with an evicted network keeps it alive until it ends; then it is freed.
    """
    if len(_cache) <= keep:
        return
    freed_cuda = False
    while len(_cache) > keep:
        _key, enhancer = _cache.popitem(last=False)
        freed_cuda |= enhancer.device.type == "cuda"
    del enhancer
    gc.collect()  # networks can sit in reference cycles (modules with hooks); free them now, not later
    if freed_cuda:
        torch.cuda.empty_cache()  # hand the cached blocks back so other processes (and models) can use them


def _build_link(link, dev, dtype, tile, opts: dict) -> Enhancer:
    """Build one link of a chain (a registered spec, with every option set, or a checkpoint path)."""
    if isinstance(link, str):
        from .custom import load_checkpoint_enhancer

        return load_checkpoint_enhancer(link, dev, dtype, tile)
    values = {key: spec.default for key, spec in link.options.items()} | opts
    return link.builder()(link, dev, dtype, tile, **values)


def clear_cache() -> None:
    """Forget every loaded enhancer (tests; freeing GPU memory)."""
    with _load_lock:
        _evict(keep=0)
