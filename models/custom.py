"""Any spandrel-supported checkpoint as an enhancer (``--model path/to/model.pth``), loaded safely.

A user-supplied file is untrusted: ``.pth``/``.pt``/``.ckpt`` files are read with
``torch.load(weights_only=True)`` (tensors and plain containers only, never arbitrary Python objects) and
``.safetensors`` with safetensors. spandrel's own ``ModelLoader.load_from_file`` is not used: it unpickles
with its own allow-list and ``weights_only=False``, and opens ``.pt`` files with ``torch.jit.load``.
Architectures from ``spandrel_extra_arches`` carry non-commercial licences, so they load only with
``ENHANCE_ALLOW_NONCOMMERCIAL=1``.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import torch
from spandrel import (
    MAIN_REGISTRY,
    ArchRegistry,
    ArchSupport,
    ImageModelDescriptor,
    ModelDescriptor,
    ModelTiling,
    UnsupportedModelError,
    canonicalize_state_dict,
)

from .base import Enhancer, EnhancerInfo
from .errors import LicenceNotAccepted, UnknownModel, WeightsCorrupt
from .licence import noncommercial_allowed

LICENCE = "user-supplied"
_TORCHSCRIPT = "TorchScript archives are not supported; save the model's state_dict instead"


class CheckpointEnhancer(Enhancer):
    """A user-supplied spandrel model; spandrel's call pads to the model's size requirements."""

    #: an unknown architecture may see far: keep a generous overlap between tiles
    tile_pad = 32

    def __init__(self, info: EnhancerInfo, device: torch.device, dtype: torch.dtype, tile: int, descriptor):
        super().__init__(info, device, dtype, tile)
        self.descriptor = descriptor
        self.size_multiple = descriptor.size_requirements.multiple_of
        # models that tile internally need the whole frame; "discouraged" still beats running out of memory
        self.tileable = descriptor.tiling is not ModelTiling.INTERNAL

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the model through spandrel's descriptor (pads to its minimum size, crops, clamps)."""
        return self.descriptor(x)


# -- reading files ---------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_reason(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in words a person can act on."""
    text = str(exc)
    if "TorchScript" in text:
        return _TORCHSCRIPT
    if "Weights only load failed" in text or "Unsupported global" in text:
        return "it holds Python objects other than tensors, which could run code when loaded; refused"
    return _first_line(exc)


def _is_torchscript(path: Path) -> bool:
    """True for a TorchScript archive (a zip with ``constants.pkl``), which holds code, not a state dict."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def read_state_dict(path: str | Path, who: str, hint: str = "") -> dict[str, torch.Tensor]:
    """The tensors in ``path`` (canonicalised as spandrel does), read without executing any code."""
    path = Path(path)
    tail = f"; {hint}" if hint else ""
    if _is_torchscript(path):
        # torch.load(weights_only=True) refuses these too, after a misleading "dispatching to jit" warning
        raise WeightsCorrupt(f"{who}: cannot load {path} ({_TORCHSCRIPT}){tail}")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            raw = load_file(str(path), device="cpu")
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip, EOF, runtime errors: every one means "not a usable file"
        raise WeightsCorrupt(f"{who}: cannot load {path} ({_load_reason(exc)}){tail}") from exc
    state = canonicalize_state_dict(raw) if isinstance(raw, dict) else None
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsCorrupt(f"{who}: {path} holds no state dict of tensors; is it a model checkpoint?")
    return dict(state)


# -- recognising the architecture ------------------------------------------------------------------


def _extra_archs() -> list[ArchSupport]:
    """The architectures of spandrel_extra_arches (non-commercial licences), in detection order."""
    try:
        from spandrel_extra_arches import EXTRA_REGISTRY
    except ImportError:
        return []
    return EXTRA_REGISTRY.architectures("detection")


def free_registry() -> ArchRegistry:
    """spandrel's architectures without the extra (non-commercial) ones, even if someone installed those."""
    extra_ids = {a.architecture.id for a in _extra_archs()}
    registry = ArchRegistry()
    registry.add(*(a for a in MAIN_REGISTRY.architectures() if a.architecture.id not in extra_ids))
    return registry


def _load_with(arch: ArchSupport | ArchRegistry, state: dict, who: str) -> ModelDescriptor:
    """Build the model with one architecture (or the first a registry detects); bad layout: WeightsCorrupt."""
    try:
        if isinstance(arch, ArchRegistry):
            return arch.load(state)
        return arch.architecture.load(state)
    except UnsupportedModelError:
        raise
    except Exception as exc:  # spandrel reports bad layouts as KeyError, RuntimeError, AssertionError...
        raise WeightsCorrupt(f"{who}: looks like a known model but does not fit it ({exc})") from exc


def describe(state: dict[str, torch.Tensor], who: str) -> tuple[ModelDescriptor, bool]:
    """The spandrel model for ``state`` and whether its architecture is licensed non-commercially."""
    try:
        return _load_with(free_registry(), state, who), False
    except UnsupportedModelError:
        pass
    extra = next((a for a in _extra_archs() if a.detect(state)), None)
    if extra is None:
        keys = ", ".join(list(state)[:3])
        raise WeightsCorrupt(
            f"{who}: not a checkpoint of any architecture spandrel knows (keys: {keys}, ...)"
        )
    if not noncommercial_allowed():
        raise LicenceNotAccepted(
            f"{who} is a {extra.architecture.name} model, an architecture licensed for non-commercial use; "
            "set ENHANCE_ALLOW_NONCOMMERCIAL=1 to accept its licence"
        )
    return _load_with(extra, state, who), True


def _check_usable(desc: ModelDescriptor, who: str) -> None:
    """Refuse models that are not RGB image-to-image (inpainting, grayscale, ...)."""
    if not isinstance(desc, ImageModelDescriptor):
        raise UnknownModel(f"{who}: a {desc.architecture.name} {desc.purpose} model needs more than a frame")
    if desc.input_channels != 3 or desc.output_channels != 3:
        raise UnknownModel(
            f"{who}: a {desc.input_channels}-in/{desc.output_channels}-out channel model; "
            "only RGB (3-channel) models can enhance video"
        )


def _supported_dtype(desc: ModelDescriptor, dtype: torch.dtype) -> torch.dtype:
    """``dtype`` if the architecture supports it, else fp32 (some architectures break in fp16 or bf16)."""
    if dtype == torch.float16 and not desc.supports_half:
        return torch.float32
    if dtype == torch.bfloat16 and not desc.supports_bfloat16:
        return torch.float32
    return dtype


def load_checkpoint_enhancer(
    path: str | Path, device: torch.device, dtype: torch.dtype, tile: int
) -> Enhancer:
    """An enhancer for any spandrel-supported checkpoint file, loaded safely; errors name the file."""
    path = Path(path)
    who = path.name
    if not path.is_file():
        raise UnknownModel(f"model file {str(path)!r} does not exist")
    desc, noncommercial = describe(read_state_dict(path, who), who)
    _check_usable(desc, who)
    run_dtype = _supported_dtype(desc, dtype)
    desc.to(device=device, dtype=run_dtype).eval()
    desc.model.requires_grad_(False)
    info = EnhancerInfo(
        name=who,
        task="upscale" if desc.scale > 1 else "enhance",
        scale=float(desc.scale),
        licence=LICENCE,
        noncommercial=noncommercial,
        extra={"architecture": desc.architecture.name, "tags": list(desc.tags), "path": str(path)},
    )
    if run_dtype != dtype:
        info.extra["precision_note"] = f"{desc.architecture.name} does not support {dtype}; runs in fp32"
    return CheckpointEnhancer(info, device, run_dtype, tile, desc)


@functools.lru_cache(maxsize=32)
def _cached_scale(path: str, mtime_ns: int, size: int) -> float:
    """The scale of the checkpoint at ``path`` as it was at (mtime, size)."""
    who = Path(path).name
    desc, _ = describe(read_state_dict(path, who), who)
    _check_usable(desc, who)
    return float(desc.scale)


def checkpoint_scale(path: str | Path) -> float:
    """The scale of a checkpoint file, read safely on the CPU (for sizing a chain before it loads)."""
    path = Path(path)
    if not path.is_file():
        raise UnknownModel(f"model file {str(path)!r} does not exist")
    st = path.stat()
    return _cached_scale(str(path.resolve()), st.st_mtime_ns, st.st_size)
