"""The operator's licence opt-in for non-commercial models: one flag per process, read by the registry and
by the loader of user checkpoints (a module of its own, so neither has to import the other for it)."""

from __future__ import annotations

#: set once per process by whoever starts it (the app passes ENHANCE_ALLOW_NONCOMMERCIAL through its
#: Settings); refused until someone says otherwise
_allow_noncommercial = False


def set_allow_noncommercial(allowed: bool) -> None:
    """Accept (or refuse) non-commercial models in this process."""
    global _allow_noncommercial
    _allow_noncommercial = bool(allowed)


def noncommercial_allowed() -> bool:
    """True when the operator opted in to non-commercial models (ENHANCE_ALLOW_NONCOMMERCIAL=1)."""
    return _allow_noncommercial
