"""One registry of enhancers by name; ``load_enhancer`` builds (and caches) them.

A family module registers its names with :func:`register`; a name may also be a chain ``a+b+c``
or a path to any spandrel-supported ``.pth``. Third-party packages can add models through the
``video_enhance.models`` entry point group (each entry point is a callable that calls ``register``).
"""

from __future__ import annotations

import gc
import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import torch

from .base import Enhancer
from .device import resolve_device, resolve_precision
from .errors import BadOption, LicenceNotAccepted, UnknownModel
from .licence import noncommercial_allowed, set_allow_noncommercial  # noqa: F401 - the app sets it here
from .options import OptionSpec

TASKS = ("upscale", "denoise", "low-light", "colour", "enhance", "temporal")
_FAMILY_MODULES = ("realesrgan", "mirnet", "lut3d", "zerodce", "resize", "nlmeans", "temporal", "stabilize")
ENTRY_POINT_GROUP = "video_enhance.models"


@dataclass(frozen=True)
class ModelSpec:
    """A registered enhancer: what it is, which weights it needs, and how to build it."""

    name: str
    task: str
    scale: float
    licence: str
    weights: tuple[str, ...]
    build: Callable[..., Enhancer]
    description: str = ""
    noncommercial: bool = False
    #: option name -> its typed spec; values reach ``build`` parsed by :func:`validate_model_options`
    options: dict[str, OptionSpec] = field(default_factory=dict)
    #: (frames before, frames after) frame t that a temporal stage sees; (0, 0) for per-frame models
    window: tuple[int, int] = (0, 0)

    @property
    def temporal(self) -> bool:
        """True for a temporal stage (it filters frame t from a window of its neighbours)."""
        return self.window != (0, 0)


_SPECS: dict[str, ModelSpec] = {}
_loaded_families = False
_load_lock = threading.Lock()
#: loaded networks, least recently used first; keyed by what changes the weights (never by tile size)
_cache: OrderedDict[tuple, Enhancer] = OrderedDict()
#: how many networks a process keeps loaded (ENHANCE_MODEL_CACHE, set by the app through ``set_cache_size``)
_cache_size = 2


def register(spec: ModelSpec) -> None:
    """Add (or replace) a model in the registry."""
    if spec.task not in TASKS:
        raise ValueError(f"{spec.name}: task {spec.task!r} not in {TASKS}")
    _SPECS[spec.name] = spec


def _ensure_families() -> None:
    """Import the built-in family modules and entry-point plugins once, on first use."""
    global _loaded_families
    if _loaded_families:
        return
    for mod in _FAMILY_MODULES:
        importlib.import_module(f"{__package__}.{mod}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()()
    _loaded_families = True


def all_specs() -> list[ModelSpec]:
    """Every registered model, in registration order."""
    _ensure_families()
    return list(_SPECS.values())


def get_spec(name: str) -> ModelSpec:
    """The spec of one registered model, or UnknownModel naming the allowed ones."""
    _ensure_families()
    try:
        return _SPECS[name]
    except KeyError:
        allowed = ", ".join(_SPECS)
        # HTTP refuses checkpoint paths, so only the command line is offered one
        raise UnknownModel(
            f"unknown model {name!r}; allowed: {allowed}, or a chain like a+b",
            hints={"cli": "a path to a .pth file works too"},
        ) from None




def check_licence(spec: ModelSpec) -> None:
    """Refuse a non-commercial model unless the operator opted in."""
    if spec.noncommercial and not noncommercial_allowed():
        raise LicenceNotAccepted(
            f"{spec.name} is licensed for non-commercial use only ({spec.licence})",
            hints={
                "cli": "set ENHANCE_ALLOW_NONCOMMERCIAL=1 to accept its licence",
                "http": "this server's operator has not enabled non-commercial models; choose another model",
            },
        )


def is_model_path(name: str) -> bool:
    """True when ``name`` names a checkpoint file rather than a registered model."""
    return name.endswith((".pth", ".pt", ".safetensors", ".ckpt")) or os.sep in name


def split_chain(name: str) -> list[str]:
    """``a+b+c`` -> [a, b, c]; validates that no link is empty."""
    links = [part.strip() for part in name.split("+")]
    if not name.strip() or any(not link for link in links):
        raise UnknownModel(f"bad model name {name!r}: a chain is names joined by '+', e.g. a+b")
    return links


def resolve_chain(name: str) -> list[ModelSpec | str]:
    """Validate every link of ``name`` (spec or checkpoint path) without loading weights."""
    resolved: list[ModelSpec | str] = []
    for link in split_chain(name):
        if is_model_path(link):
            if not os.path.isfile(link):
                raise UnknownModel(f"model file {link!r} does not exist")
            resolved.append(link)
        else:
            spec = get_spec(link)
            check_licence(spec)
            resolved.append(spec)
    temporal = [i for i, link in enumerate(resolved) if isinstance(link, ModelSpec) and link.temporal]
    if temporal and temporal != [len(resolved) - 1]:
        # the pipeline streams one window stage after the per-frame links (models/chain.py split_temporal)
        raise UnknownModel(
            f"bad model name {name!r}: a chain takes one temporal stage "
            f"({', '.join(resolved[i].name for i in temporal)}), as its last link, e.g. bicubic+temporalfix"
        )
    return resolved


def has_temporal_stage(name: str) -> bool:
    """True when the model or chain ``name`` ends with a temporal stage (checked without loading weights)."""
    last = resolve_chain(name)[-1]
    return isinstance(last, ModelSpec) and last.temporal


def validate_model_options(name: str, raw: dict | None) -> dict:
    """``raw`` model options (bare ``option`` or qualified ``link.option``) checked against the chain
    ``name`` and parsed to their types, keyed as given; BadOption names an unknown or bad one."""
    links = resolve_chain(name)
    per_link = link_options(links, raw)
    typed = {}
    for key in raw or {}:
        link_name, _, option = key.rpartition(".")
        typed[key] = next(
            opts[option]
            for link, opts in zip(links, per_link, strict=True)
            if isinstance(link, ModelSpec) and option in opts and link_name in ("", link.name)
        )
    return typed


def link_options(links: list[ModelSpec | str], raw: dict | None) -> list[dict]:
    """The parsed options each link of a resolved chain receives: a bare name sets every link that has
    it, ``link.option`` only that link; an option no link has is a BadOption listing the ones there are."""
    per_link: list[dict] = [{} for _ in links]
    for key, value in (raw or {}).items():
        link_name, _, option = str(key).rpartition(".")
        hits = [
            i
            for i, link in enumerate(links)
            if isinstance(link, ModelSpec) and option in link.options and link_name in ("", link.name)
        ]
        if not hits:
            raise _unknown_option(key, links)
        for i in hits:
            per_link[i][option] = links[i].options[option].parse(value, key)
    return per_link


def _unknown_option(key: str, links: list[ModelSpec | str]) -> BadOption:
    """BadOption for an option no link of the chain has, listing the ones it does have."""
    specs = [link for link in links if isinstance(link, ModelSpec)]
    chain = "+".join(link.name if isinstance(link, ModelSpec) else link for link in links)
    names = [f"{s.name}.{o}" if len(links) > 1 else o for s in specs for o in s.options]
    have = f"its options: {', '.join(names)}" if names else "it takes no options"
    return BadOption(f"{{field}} is not an option of {chain}; {have}", field=key, model_option=True)


def chain_scale(name: str, options: dict | None = None) -> float:
    """The total scale of a model or chain without loading weights (a .pth path is loaded to learn it)."""
    scale = 1.0
    links = resolve_chain(name)
    for link, opts in zip(links, link_options(links, options), strict=True):
        if isinstance(link, ModelSpec):
            # baselines take their scale as an option
            scale *= (
                opts.get("scale", link.options["scale"].default) if "scale" in link.options else link.scale
            )
        else:
            from .custom import checkpoint_scale

            scale *= checkpoint_scale(link)
    return scale


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
    return link.build(link, dev, dtype, tile, **values)


def clear_cache() -> None:
    """Forget every loaded enhancer (tests; freeing GPU memory)."""
    with _load_lock:
        _evict(keep=0)
