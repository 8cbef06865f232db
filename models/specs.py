"""What enhancers exist, without loading any: model declarations, chains, options and licences.

No torch here (nor anything that imports it): the HTTP tier validates requests and lists the catalog from
these declarations, and only the processes that run jobs build networks (``models.registry``). So a spec's
``build`` is a ``"module:function"`` string, imported when the network is first built; a plugin may still
pass a callable (then its module's imports are paid wherever the catalog is read, the HTTP tier included).

The built-in declarations are ``models/declarations/``, one torch-free module per family; third-party
packages add models through the ``video_enhance.models`` entry point group (each entry point is a
callable that calls :func:`register`).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from .errors import BadOption, LicenceNotAccepted, UnknownModel
from .licence import noncommercial_allowed
from .options import OptionSpec

TASKS = ("upscale", "denoise", "low-light", "colour", "enhance", "temporal")
#: the built-in declaration modules (``models/declarations/<name>.py``), in catalog order
_FAMILY_MODULES = (
    "realesrgan",
    "mirnet",
    "lut3d",
    "zerodce",
    "resize",
    "nlmeans",
    "temporalfix",
    "stabilize",
)
ENTRY_POINT_GROUP = "video_enhance.models"


@dataclass(frozen=True)
class ModelSpec:
    """A registered enhancer: what it is, which weights it needs, and how to build it."""

    name: str
    task: str
    scale: float
    licence: str
    weights: tuple[str, ...]
    #: ``"package.module:function"`` (imported on first build) or the function itself; called as
    #: ``build(spec, device, dtype, tile, **options)`` and returns a ``models.base.Enhancer``
    build: str | Callable[..., object]
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

    def builder(self) -> Callable[..., object]:
        """The build function, imported now if it was declared by name."""
        if callable(self.build):
            return self.build
        module, _, attr = self.build.partition(":")
        return getattr(importlib.import_module(module), attr)


_SPECS: dict[str, ModelSpec] = {}
_loaded_families = False
_families_lock = threading.Lock()


def register(spec: ModelSpec) -> None:
    """Add (or replace) a model in the registry."""
    if spec.task not in TASKS:
        raise ValueError(f"{spec.name}: task {spec.task!r} not in {TASKS}")
    _SPECS[spec.name] = spec


def _ensure_families() -> None:
    """Import the built-in declarations and entry-point plugins once, on first use (thread-safe: the HTTP
    tier's threads may all ask at once)."""
    global _loaded_families
    if _loaded_families:
        return
    with _families_lock:
        if _loaded_families:
            return
        for mod in _FAMILY_MODULES:
            importlib.import_module(f"{__package__}.declarations.{mod}")
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
