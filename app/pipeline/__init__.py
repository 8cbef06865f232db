"""The enhancement pipeline, usable without a server: ``enhance_file(src, dst, options)``.

Importing the package loads nothing heavy: the HTTP tier imports its light modules (``options``,
``limits``) and must never load torch, PyAV or OpenCV. The names below are imported on first access
(PEP 562 ``__getattr__``), so ``from app.pipeline import enhance_file`` works as before where jobs run.
"""

from __future__ import annotations

import importlib

#: exported name -> the submodule that defines it (no submodule may share an exported name: importing a
#: submodule sets the package attribute of its name, which would hide the function of the same name)
_EXPORTS = {
    "EnhanceOptions": "options",
    "MediaInfo": "probing",
    "probe": "probing",
    "Progress": "progress",
    "RunResult": "video",
    "X265_MIN_SIDE": "enhance",
    "check_request": "enhance",
    "enhance_file": "enhance",
    "enhancer_for": "enhance",
    "with_codec": "enhance",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import an exported name's submodule on first access."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
