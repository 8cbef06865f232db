"""Request and response schemas: they validate requests and generate /openapi.json (one source)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.pipeline.options import CODECS

Codec = Literal[CODECS]  # type: ignore[valid-type]


class EnhanceForm(BaseModel):
    """The form fields of ``POST /enhance`` (besides ``file``)."""

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
    crf: int | None = Field(None, ge=0, le=63, description="Quality; lower is better; codec default if unset")
    frames: int | None = Field(None, ge=1, le=10_000_000, description="Only the first N frames (a preview)")
    deinterlace: Literal["auto", "off", "frame", "field"] = Field(
        "auto", description="auto: deinterlace detected interlaced input; field: one frame per field; off"
    )
    denoise_strength: float | None = Field(None, ge=0, le=1, description="realesr-general-x4v3 only")
    webhook_url: str | None = Field(None, max_length=2048, description="Receives the final job document")


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


class ModelInfo(BaseModel):
    """An enhancer, as ``flask models --json`` prints it."""

    model_config = ConfigDict(extra="allow")

    name: str
    task: str
    scale: float
    licence: str
    noncommercial: bool
    ready: bool


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
