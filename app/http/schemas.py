"""Request and response schemas: they validate requests and generate /openapi.json (one source)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.pipeline.options import CODECS, default_crf_text

Codec = Literal[CODECS]  # type: ignore[valid-type]


class EnhanceForm(BaseModel):
    """The fixed form fields of ``POST /enhance`` (besides ``file``); every other field is a model option,
    validated against the chosen model's own schema (``GET /models``)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None, max_length=512, description="Model name or chain a+b; default ENHANCE_DEFAULT_MODEL"
    )
    outscale: float | None = Field(
        None, ge=0.0625, le=16, description="Final scale, Lanczos after the network"
    )
    tile: int = Field(0, ge=0, le=8192, description="Tile size in pixels, 0 = automatic (else >= 32)")
    codec: Codec | None = Field(
        None, description="Output video codec; default: h264, or 10-bit h265 for HDR input"
    )
    crf: int | None = Field(
        None,
        ge=0,
        le=63,
        description="Quality; lower is better. h264, h265: 0-51; vp9: 0-63; ffv1 is lossless and takes none. "
        f"Unset: {default_crf_text()}",
    )
    frames: int | None = Field(None, ge=1, le=10_000_000, description="Only the first N frames (a preview)")
    deinterlace: Literal["auto", "off", "frame", "field"] = Field(
        "auto", description="auto: deinterlace detected interlaced input; field: one frame per field; off"
    )
    webhook_url: str | None = Field(None, max_length=2048, description="Receives the final job document")


#: what OpenAPI says about the form fields beyond EnhanceForm's
MODEL_OPTION_FIELDS = (
    "Model options: every option GET /models lists for the chosen model is a form field of the same "
    "name (e.g. scale=2 for bicubic, strength=5 for nlmeans, denoise_strength=0.3 for "
    "realesr-general-x4v3); in a chain, link.option sets it on that link only (nlmeans.strength=5). "
    "Values are checked against the model's type, minimum and maximum."
)


def _upload_schema(schema: dict) -> None:
    """OpenAPI's view of the multipart body: ``file`` first and required, model options as further fields."""
    properties = schema["properties"]
    for prop in properties.values():
        # an unset field is simply not sent: a form has no null, and a "null" default or alternative would
        # make Swagger UI's "Try it out" (or a fuzzer) send the text "null", which the API (rightly) refuses
        if "default" in prop and prop["default"] is None:
            del prop["default"]
        choices = [c for c in prop.pop("anyOf", []) if c != {"type": "null"}]
        if len(choices) == 1:
            prop.update(choices[0])
        elif choices:
            prop["anyOf"] = choices
    schema["properties"] = {"file": properties.pop("file"), **properties}
    schema["required"] = ["file"]
    schema["additionalProperties"] = {"type": "string", "description": MODEL_OPTION_FIELDS}
    schema["description"] = MODEL_OPTION_FIELDS


class EnhanceUpload(EnhanceForm):
    """The whole multipart body of ``POST /enhance`` as /openapi.json describes it (the view validates the
    fixed fields with EnhanceForm and the model's options against the model)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_upload_schema)

    file: bytes = Field(description="The video or image")


class Progress(BaseModel):
    """Progress of a job."""

    frames_done: int
    frames_total: int | None
    fraction: float
    fps: float | None
    eta_seconds: float | None


class ErrorInfo(BaseModel):
    """Why a job failed."""

    type: str
    title: str
    detail: str


class JobDocument(BaseModel):
    """A job as clients see it."""

    id: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    model: str
    options: dict
    progress: Progress
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: ErrorInfo | None
    result_url: str | None
    worker: str | None
    attempts: int
    input: dict


class JobList(BaseModel):
    """One page of the caller's jobs, newest first."""

    jobs: list[JobDocument]
    total: int
    limit: int
    offset: int


class ListQuery(BaseModel):
    """Query parameters of ``GET /jobs``."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=2**31 - 1)


class OptionInfo(BaseModel):
    """One model option (models.options.OptionSpec): also a form field of ``POST /enhance``."""

    default: float | int | str
    description: str
    type: Literal["number", "integer", "string"]
    minimum: float | None
    maximum: float | None
    choices: list[str] | None = None


class ModelInfo(BaseModel):
    """An enhancer, as ``flask models --json`` prints it."""

    model_config = ConfigDict(extra="allow")

    name: str
    task: str
    scale: float
    licence: str
    noncommercial: bool
    ready: bool
    options: dict[str, OptionInfo] = Field(
        default_factory=dict, description="Its options; each is a form field of POST /enhance"
    )
    window: list[int] | None = Field(
        None,
        description="Temporal stages only: the frames before and after frame t it sees; it ends a chain "
        "(e.g. realesr-animevideov3+stabilize)",
    )


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class Health(BaseModel):
    """Liveness / readiness answer."""

    model_config = ConfigDict(extra="allow")

    status: str
