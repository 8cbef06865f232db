"""The list of enhancers as plain dicts: what ``flask models --json`` prints and ``GET /models`` returns.

No Flask here. Paths in the dicts are the manifest's relative paths: where the server keeps its
weights is its own business, so only the CLI prints the search folders (``search_dirs``).
"""

from __future__ import annotations

from . import weights
from .licence import noncommercial_allowed
from .specs import ModelSpec, all_specs


def fetch_command(name: str) -> str:
    """The command that downloads the weights ``name`` needs."""
    return f"flask weights download {name}"


def describe(spec: ModelSpec) -> dict:
    """One enhancer as a JSON-ready dict (name, task, scale, licence, weights, readiness, fetch command)."""
    ready = weights.ready(spec.weights)
    return {
        "name": spec.name,
        "task": spec.task,
        "scale": spec.scale,
        "licence": spec.licence,
        "noncommercial": spec.noncommercial,
        "allowed": not spec.noncommercial or noncommercial_allowed(),
        "weights": list(spec.weights),
        "ready": ready,
        "fetch": None if ready else fetch_command(spec.name),
        "description": spec.description,
        # temporal stages filter frame t from its neighbours (frames before, after) and end a chain
        "window": list(spec.window) if spec.temporal else None,
        # default, description, type, minimum, maximum (+ choices): the page renders inputs from these
        "options": {key: option.describe() for key, option in spec.options.items()},
    }


def catalog() -> list[dict]:
    """Every registered enhancer, in registration order."""
    return [describe(spec) for spec in all_specs()]


def search_dirs() -> list[str]:
    """The folders searched for weights, in lookup order, as strings."""
    return [str(d) for d in weights.search_dirs()]
