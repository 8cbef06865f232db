"""Enhancers: neural and reference models that turn frames into better frames. No Flask here."""

# first: silences one dependency warning before any model module imports that dependency
from . import dependency_warnings  # noqa: F401
from .base import Enhancer, EnhancerInfo
from .errors import EnhanceError
from .options import OptionSpec
from .registry import (
    ModelSpec,
    all_specs,
    chain_scale,
    get_spec,
    load_enhancer,
    register,
    validate_model_options,
)

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
