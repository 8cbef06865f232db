"""Which model runs on which degradation, and which models are skipped (with the reason).

A model or chain fits a degradation when its total scale equals the degradation's factor, at least one
of its tasks restores that damage and none of them is foreign to it (see ``Degradation.needs/allows``).
Baselines with a ``scale`` option (bicubic, lanczos) take the factor as their scale. Models that cannot
run here (licence not accepted, weights missing, nothing fits) become :class:`Skip` entries, never
silently dropped. Scale-1 damages also get the ``input`` row: the damaged image itself, unrestored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from models.errors import LicenceNotAccepted, UnknownModel
from models.registry import ModelSpec, all_specs, check_licence, get_spec, is_model_path, split_chain
from models.weights import locate

from .degrade import DEGRADATIONS, Degradation

#: the pseudo-model "do nothing": the damaged image scored as it is
INPUT = "input"


@dataclass(frozen=True)
class Task:
    """One model (or chain) on one degradation, with the load options it needs there."""

    model: str
    degradation: Degradation
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """Something left out of the comparison, and why: a model, an image or a metric."""

    what: str  # "model" | "image" | "metric"
    name: str
    reason: str
    degradation: str | None = None

    def to_dict(self) -> dict:
        """The entry as written to skipped.json."""
        return {"what": self.what, "name": self.name, "degradation": self.degradation, "reason": self.reason}


def default_models() -> list[str]:
    """Every registered model, in registration order."""
    return [spec.name for spec in all_specs()]


def default_video_models() -> list[str]:
    """Every registered upscaler alone, then followed by each temporal stage (``+stabilize`` ...)."""
    specs = all_specs()
    temporal = sorted(f"+{s.name}" for s in specs if s.temporal)
    return [f"{s.name}{stage}" for s in specs if s.task == "upscale" for stage in ["", *temporal]]


def parse_models(text: str | None, default=default_models) -> list[str]:
    """``a,b+c`` -> names (chains kept whole), de-duplicated; ``default()`` when ``text`` is empty."""
    if not text:
        return default()
    names = list(dict.fromkeys(n.strip() for n in text.split(",")))
    if "" in names:
        raise UnknownModel(f"empty model name in {text!r}; give names separated by commas")
    return names


def link_specs(name: str) -> list[ModelSpec]:
    """The registered spec of every link of ``name``; UnknownModel for typos and checkpoint paths."""
    specs = []
    for link in split_chain(name):
        if is_model_path(link):
            raise UnknownModel(
                f"{link!r}: evaluate compares registered models; a checkpoint file has no task"
            )
        specs.append(get_spec(link))
    return specs


def total_scale(specs: list[ModelSpec], factor: int) -> float:
    """The chain's scale when every link with a ``scale`` option is given ``factor``."""
    return math.prod(float(factor) if "scale" in s.options else float(s.scale) for s in specs)


def fits(specs: list[ModelSpec], degradation: Degradation) -> bool:
    """True when the model (chain) restores ``degradation``: right total scale, right tasks."""
    tasks = {s.task for s in specs}
    return (
        bool(tasks & degradation.needs)
        and tasks <= degradation.allows
        and math.isclose(total_scale(specs, degradation.factor), degradation.factor)
    )


def _unavailable(specs: list[ModelSpec]) -> str | None:
    """Why this model cannot be loaded here (licence, weights), or None."""
    reasons = []
    for spec in specs:
        try:
            check_licence(spec)
        except LicenceNotAccepted as exc:
            reasons.append(exc.detail)
    # both reasons at once: accepting the licence should not merely reveal the next obstacle
    missing = [w for s in specs for w in s.weights if locate(w) is None]
    if missing:
        names = " ".join(dict.fromkeys(s.name for s in specs if any(w in missing for w in s.weights)))
        reasons.append(f"weights missing: {', '.join(missing)}; fetch with: flask weights download {names}")
    return "; ".join(reasons) or None


def _describe(specs: list[ModelSpec]) -> str:
    """``scale x4, task upscale`` for a reason message."""
    scale = "any" if all("scale" in s.options for s in specs) else f"x{total_scale(specs, 1):g}"
    return f"scale {scale}, task {'+'.join(s.task for s in specs)}"


def plan(
    models: list[str], degradations: list[Degradation], named: bool = True, catalogue: dict | None = None
) -> tuple[list[Task], list[Skip]]:
    """The (model, degradation) runs in model order, then the ``input`` rows, and what is skipped.

    ``named``: the caller chose the degradations, so one that no requested model restores is reported
    too (with the default list, only those whose every fitting model was skipped are). ``catalogue``:
    every degradation of this mode (default: the image ones), named in a skipped model's hint.
    """
    catalogue = DEGRADATIONS if catalogue is None else catalogue
    tasks: list[Task] = []
    skipped: list[Skip] = []
    fitted: dict[str, list[str]] = {}  # degradation -> requested models that fit it, runnable or not
    for name in models:
        specs = link_specs(name)
        fitting = [d for d in degradations if fits(specs, d)]
        for d in fitting:
            fitted.setdefault(d.name, []).append(name)
        if not fitting:
            others = [d.name for d in catalogue.values() if d not in degradations and fits(specs, d)]
            hint = f"; it fits {', '.join(others)}, not requested" if others else ""
            reason = f"no requested degradation fits it ({_describe(specs)}){hint}"
            skipped.append(Skip("model", name, reason))
            continue
        reason = _unavailable(specs)
        if reason:
            skipped.append(Skip("model", name, reason))
            continue
        takes_scale = any("scale" in s.options for s in specs)
        tasks += [Task(name, d, {"scale": d.factor} if takes_scale else {}) for d in fitting]
    skipped += _unscored(degradations, tasks, fitted, named)
    # "do nothing" is the reference a scale-1 restorer must beat; add it wherever one is evaluated
    scored = list(dict.fromkeys(t.degradation.name for t in tasks if t.degradation.factor == 1))
    tasks += [Task(INPUT, d) for d in degradations if d.name in scored]
    return tasks, skipped


def _unscored(degradations, tasks: list[Task], fitted: dict[str, list[str]], named: bool) -> list[Skip]:
    """A Skip for every requested degradation that no runnable model restores, saying why."""
    scored = {t.degradation.name for t in tasks}
    skips = []
    for d in degradations:
        if d.name in scored or (not named and d.name not in fitted):
            continue
        if d.name in fitted:
            reason = f"every requested model that restores it was skipped: {', '.join(fitted[d.name])}"
        else:
            tasks_needed = "/".join(sorted(d.needs))
            reason = f"no requested model restores it (that needs scale x{d.factor}, task {tasks_needed})"
        skips.append(Skip("degradation", d.name, reason))
    return skips
