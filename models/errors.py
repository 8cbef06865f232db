"""The engine's error tree: every failure a person can act on has its own class.

    EnhanceError                    base; ``user_error`` says whether the caller caused it
    ├── InvalidVideo                not a video / truncated / corrupt            (user, 422)
    │   └── NoVideoStream           a readable file without a video stream       (user, 422)
    ├── UnsupportedInput            decodes, but we cannot process it            (user, 415)
    ├── UnknownModel                no enhancer by that name                     (user, 400)
    ├── BadOption                   an option value out of range                 (user, 400)
    ├── LicenceNotAccepted          non-commercial model without opt-in          (user, 403)
    ├── TooLarge                    output over ENHANCE_MAX_OUTPUT_PIXELS/FRAMES (user, 422)
    ├── WeightsMissing              weights file not found; names the fix        (setup, 503)
    ├── WeightsCorrupt              checksum mismatch or unreadable checkpoint   (setup, 503)
    ├── OutOfMemory                 even the smallest tile did not fit           (server, 507)
    ├── OutputError                 cannot write the result (disk full, ...)     (server, 507)
    └── Canceled                    the caller asked to stop (between batches)

The HTTP layer maps ``http_status``; the CLI exits 2 for ``user_error`` and 1 otherwise.

An error that names something the caller can change carries it as a neutral ``field`` (``outscale``,
``crf``, a model option such as ``scale``) and writes ``{field}`` where it goes in the detail; each
boundary words it in its caller's terms (:meth:`EnhanceError.worded`): the CLI a flag (``--outscale``,
``--model-option scale``), HTTP a form field (``form field outscale``). ``hints`` holds advice that only
one kind of caller can follow (a CLI user can set a server variable, an HTTP client cannot).
"""

from __future__ import annotations


class EnhanceError(Exception):
    """Base class of every error the engine raises on purpose."""

    title = "Enhancement failed"
    slug = "enhance-error"
    http_status = 500
    user_error = False

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        model_option: bool = False,
        hints: dict[str, str] | None = None,
    ):
        self.template = detail
        self.field = field
        self.model_option = model_option
        self.hints = dict(hints or {})
        # the command line (and Python callers, who run the same engine locally) read ``detail``
        self.detail = self.worded("cli")
        super().__init__(self.detail)

    def worded(self, audience: str) -> str:
        """The detail for ``"cli"`` or ``"http"`` callers: the field in their terms, plus their own hint."""
        text = self.template
        if self.field:
            text = text.replace("{field}", field_name(self.field, audience, self.model_option))
        hint = self.hints.get(audience)
        return f"{text}; {hint}" if hint else text

    def to_dict(self) -> dict:
        """The error as the job document's ``error`` field (read over HTTP)."""
        return {"type": self.slug, "title": self.title, "detail": self.worded("http")}

    def to_wire(self) -> dict:
        """Everything needed to raise the same error in another process (``from_wire``), as JSON types."""
        return {
            "class": type(self).__name__,
            "template": self.template,
            "field": self.field,
            "model_option": self.model_option,
            "hints": self.hints,
        }

    @staticmethod
    def from_wire(wire: dict) -> EnhanceError:
        """The error ``to_wire`` described (an unknown class comes back as a plain EnhanceError)."""
        cls = _classes().get(str(wire.get("class")), EnhanceError)
        return cls(
            str(wire.get("template", "")),
            field=wire.get("field"),
            model_option=bool(wire.get("model_option")),
            hints=wire.get("hints") or {},
        )


def field_name(field: str, audience: str, model_option: bool = False) -> str:
    """How a caller names ``field``: a flag (``--outscale``, ``--model-option scale``) or a form field."""
    if audience == "http":
        return f"form field {field}"
    if model_option:
        return f"--model-option {field}"
    return "--" + field.replace("_", "-")


class InvalidVideo(EnhanceError):
    """The input is not a video or image we can decode (garbage, truncated, corrupt)."""

    title = "Not a usable video"
    slug = "invalid-video"
    http_status = 422
    user_error = True


class NoVideoStream(InvalidVideo):
    """The input is a media file without any video stream (e.g. audio only)."""

    title = "No video stream"
    slug = "no-video-stream"


class UnsupportedInput(EnhanceError):
    """The input decodes but uses something we do not handle."""

    title = "Unsupported input"
    slug = "unsupported-input"
    http_status = 415
    user_error = True


class UnknownModel(EnhanceError):
    """No enhancer is registered under the requested name."""

    title = "Unknown model"
    slug = "unknown-model"
    http_status = 400
    user_error = True


class BadOption(EnhanceError):
    """An option value is invalid (out of range, wrong type, unknown choice)."""

    title = "Bad option"
    slug = "bad-option"
    http_status = 400
    user_error = True


class LicenceNotAccepted(EnhanceError):
    """A non-commercial model was requested without ENHANCE_ALLOW_NONCOMMERCIAL=1."""

    title = "Licence not accepted"
    slug = "licence-not-accepted"
    http_status = 403
    user_error = True


class TooLarge(EnhanceError):
    """The output would exceed the configured pixel or frame limits."""

    title = "Too large"
    slug = "too-large"
    http_status = 422
    user_error = True


class WeightsMissing(EnhanceError):
    """A weights file is not present in any searched folder."""

    title = "Weights missing"
    slug = "weights-missing"
    http_status = 503
    user_error = True


class WeightsCorrupt(EnhanceError):
    """A weights file is present but its checksum or layout is wrong."""

    title = "Weights corrupt"
    slug = "weights-corrupt"
    http_status = 503
    user_error = True


class OutOfMemory(EnhanceError):
    """The device ran out of memory even with the smallest tile."""

    title = "Out of memory"
    slug = "out-of-memory"
    http_status = 507


class OutputError(EnhanceError):
    """The result could not be written (disk full, permission, encoder failure)."""

    title = "Cannot write output"
    slug = "output-error"
    http_status = 507


class Canceled(EnhanceError):
    """The caller asked to stop; raised between batches."""

    title = "Canceled"
    slug = "canceled"
    http_status = 409


def _classes() -> dict[str, type[EnhanceError]]:
    """Every error class by name: EnhanceError and all its subclasses."""
    found, todo = {}, [EnhanceError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found
