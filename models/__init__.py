"""Enhancers: neural and reference models that turn frames into better frames. No Flask here.

Importing the package loads no torch: what models exist is ``models.specs`` (torch-free, what the HTTP
tier reads); the networks and ``load_enhancer`` come with the first access to them (PEP 562 ``__getattr__``).
"""

# first: silences one dependency warning before any model module imports that dependency
from . import dependency_warnings  # noqa: F401
from .errors import EnhanceError
from .options import OptionSpec
from .specs import ModelSpec, all_specs, chain_scale, get_spec, register, validate_model_options

#: names that need torch, and the module each comes from
_LAZY = {"Enhancer": "base", "EnhancerInfo": "base", "load_enhancer": "registry"}

__all__ = [
    "Enhancer",
    "EnhancerInfo",
    "EnhanceError",
    "ModelSpec",
    "OptionSpec",
    "all_specs",
    "chain_scale",
    "get_spec",
    "load_enhancer",
    "register",
    "validate_model_options",
]


def __getattr__(name: str):
    """Import a torch-backed name on first access (``from models import load_enhancer`` works as before)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
