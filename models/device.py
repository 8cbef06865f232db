"""Pick the torch device and the compute precision for an enhancer."""

from __future__ import annotations

import functools

import torch

from .choices import DEVICES, PRECISIONS  # noqa: F401 - the names, re-exported
from .errors import BadOption

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str | None = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda[:N]`` into a torch device; ``auto`` prefers CUDA."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadOption(
                f"device {name} was asked for, but CUDA is not available on this machine (torch sees no GPU)"
            )
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise BadOption(f"unknown device {name!r}; allowed: {', '.join(DEVICES)}")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 natively here (AVX512-BF16 or AMX), so bf16 is faster than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str | None, device: torch.device) -> torch.dtype:
    """``auto`` is fp16 on CUDA, bf16 on CPUs with native bf16, else fp32."""
    precision = (precision or "auto").lower()
    if precision == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if precision not in _DTYPES:
        raise BadOption(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type == "cpu":
        raise BadOption("fp16 is only supported on CUDA; use bf16 or fp32 on the CPU")
    return _DTYPES[precision]


def precision_name(dtype: torch.dtype) -> str:
    """The short name (fp32, fp16, bf16) of a dtype."""
    return {v: k for k, v in _DTYPES.items()}[dtype]
