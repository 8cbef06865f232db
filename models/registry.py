"""One registry of enhancers by name; ``load_enhancer`` builds (and caches) them.

A family module registers its names with :func:`register`; a name may also be a chain ``a+b+c``
or a path to any spandrel-supported ``.pth``. Third-party packages can add models through the
``video_enhance.models`` entry point group (each entry point is a callable that calls ``register``).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import torch

from .base import Enhancer
from .device import resolve_device, resolve_precision
from .errors import BadOption, LicenceNotAccepted, UnknownModel

TASKS = ("upscale", "denoise", "low-light", "colour", "enhance")
_FAMILY_MODULES = ("realesrgan", "mirnet", "lut3d", "zerodce", "resize", "nlmeans")
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
    #: option name -> (default, description); validated by the family's build function
    options: dict = field(default_factory=dict)


_SPECS: dict[str, ModelSpec] = {}
_loaded_families = False
_load_lock = threading.Lock()
_cache: dict[tuple, Enhancer] = {}


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
        raise UnknownModel(
            f"unknown model {name!r}; allowed: {allowed}, a chain like a+b, or a path to a .pth file"
        ) from None


def noncommercial_allowed() -> bool:
    """True when the operator opted in to non-commercial models (ENHANCE_ALLOW_NONCOMMERCIAL=1)."""
    return os.environ.get("ENHANCE_ALLOW_NONCOMMERCIAL", "").strip().lower() in ("1", "true", "yes")


def check_licence(spec: ModelSpec) -> None:
    """Refuse a non-commercial model unless the operator opted in."""
    if spec.noncommercial and not noncommercial_allowed():
        raise LicenceNotAccepted(
            f"{spec.name} is licensed for non-commercial use only ({spec.licence}); "
            "set ENHANCE_ALLOW_NONCOMMERCIAL=1 to accept its licence"
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
    return resolved


def chain_scale(name: str, options: dict | None = None) -> float:
    """The total scale of a model or chain without loading weights (a .pth path is loaded to learn it)."""
    scale = 1.0
    for link in resolve_chain(name):
        if isinstance(link, ModelSpec):
            # baselines take their scale as an option
            scale *= (
                float((options or {}).get("scale", link.scale)) if "scale" in link.options else link.scale
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
    """Build the enhancer ``name`` (a model, a chain ``a+b`` or a ``.pth`` path), cached per process."""
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    dtype = resolve_precision(precision, dev)
    if tile < 0:
        raise BadOption("tile must be >= 0 (0 = automatic)")
    opts = dict(options or {})
    key = (name, str(dev), dtype, tile, tuple(sorted(opts.items())))
    with _load_lock:
        if key in _cache:
            return _cache[key]
        links = resolve_chain(name)
        built = [_build_link(link, dev, dtype, tile, opts) for link in links]
        if len(built) == 1:
            enhancer = built[0]
        else:
            from .chain import ChainEnhancer

            enhancer = ChainEnhancer(name, built)
        _cache[key] = enhancer
        return enhancer


def _build_link(link, dev, dtype, tile, opts) -> Enhancer:
    """Build one link of a chain: a registered spec or a checkpoint path."""
    if isinstance(link, str):
        from .custom import load_checkpoint_enhancer

        return load_checkpoint_enhancer(link, dev, dtype, tile)
    accepted = {k: v for k, v in opts.items() if k in link.options}
    return link.build(link, dev, dtype, tile, **accepted)


def clear_cache() -> None:
    """Forget every loaded enhancer (tests; freeing GPU memory)."""
    with _load_lock:
        _cache.clear()
