"""Typed model options: each family declares its options once, as :class:`OptionSpec`.

The same spec parses a CLI ``--model-option`` value, an HTTP form field and a Python value, and is what
``GET /models`` shows (``describe``), so the API, the CLI, the page and the OpenAPI document agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import BadOption

TYPES = ("number", "integer", "string")


@dataclass(frozen=True)
class OptionSpec:
    """One option of a model: its default, what it does, its type and its allowed range or choices."""

    default: float | int | str
    description: str
    type: str = "number"
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"option type {self.type!r} not in {TYPES}")

    def allowed(self) -> str:
        """The allowed values in words, e.g. ``a number from 0 to 1``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        what = {"number": "a number", "integer": "an integer", "string": "a string"}[self.type]
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {_num(self.minimum)} to {_num(self.maximum)}"
        if self.minimum is not None:
            return f"{what} >= {_num(self.minimum)}"
        if self.maximum is not None:
            return f"{what} <= {_num(self.maximum)}"
        return what

    def parse(self, raw, field: str) -> float | int | str:
        """``raw`` (a string from a form or the command line, or a Python value) as this option's type;
        BadOption naming ``field`` and the allowed values when it does not fit."""

        def bad() -> BadOption:
            return BadOption(
                f"{{field}} must be {self.allowed()}, got {raw!r}", field=field, model_option=True
            )

        if self.type == "string":
            value = str(raw)
            if self.choices and value not in self.choices:
                raise bad()
            return value
        if isinstance(raw, bool):  # True is an int to Python, never a number to a person
            raise bad()
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise bad() from None
        if not math.isfinite(number):
            raise bad()
        if self.type == "integer":
            if not number.is_integer():
                raise bad()
            number = int(number)
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise bad()
        return number

    def describe(self) -> dict:
        """The option as ``GET /models`` lists it (the page renders its inputs from these keys)."""
        out = {
            "default": self.default,
            "description": self.description,
            "type": self.type,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
        if self.choices:
            out["choices"] = list(self.choices)
        return out


def _num(value: float) -> str:
    """A bound as a person writes it: 8, not 8.0."""
    return str(int(value)) if float(value).is_integer() else str(value)
