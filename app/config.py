"""Service configuration from ``ENHANCE_*`` environment variables, validated once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


class ConfigError(Exception):
    """A configuration value is invalid; the message names the variable and what is allowed."""


# The pipeline's bounds are plain values defined here, beside the settings they come from, so that one
# object built from Settings reaches both the HTTP probe and the worker (and config stays import-light).
@dataclass(frozen=True)
class DecodeLimits:
    """Bounds a crafted file cannot push the demuxer and decoder past, so it cannot exhaust memory or disk."""

    max_streams: int = 64
    max_pixels: int = 7680 * 4320  # per decoded frame, like the 8K default of the output limit
    max_duration: float = 4 * 3600.0  # seconds


@dataclass(frozen=True)
class OutputLimits:
    """Bounds on what the pipeline writes: pixels per output frame and frames per job (None: no limit)."""

    max_pixels: int = 7680 * 4320  # 8K UHD per frame
    max_frames: int | None = None


@dataclass(frozen=True)
class Limits:
    """Every bound the pipeline enforces: on what it reads and on what it writes."""

    decode: DecodeLimits = DecodeLimits()
    output: OutputLimits = OutputLimits()


def _int(env: dict, name: str, default: int | None, minimum: int = 0) -> int | None:
    """An integer variable (None allowed as default)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: dict, name: str, default: float, minimum: float = 0) -> float:
    """A number variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: dict, name: str, default: bool = False) -> bool:
    """A 0/1 (true/false, yes/no) variable."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1, got {raw!r}")


@dataclass
class Settings:
    """Every setting the service reads; see the README for each variable."""

    data_dir: Path = Path("data")
    database_url: str | None = None
    queue: str = "local"
    broker_url: str | None = None
    default_model: str = "realesr-animevideov3"
    device: str = "auto"
    workers: int = 1
    max_upload_mb: int = 2048
    max_output_pixels: int | None = None
    max_frames: int | None = None
    max_queued: int = 100
    api_keys: tuple[str, ...] = ()
    result_ttl_hours: float = 24.0
    allow_noncommercial: bool = False
    webhook_secret: str | None = None
    webhook_allow_private: bool = False
    rate_limit: str | None = None
    max_queued_per_key: int | None = None
    max_stored_mb_per_key: int | None = None
    webhook_tries: int = 8
    webhook_backoff_seconds: float = 0.5
    webhook_timeout_seconds: float = 10.0
    max_streams: int = 64
    max_input_pixels: int = 7680 * 4320
    max_duration_seconds: float = 4 * 3600.0
    max_attempts: int = 3
    heartbeat_seconds: float = 2.0
    stale_seconds: float = 30.0
    segment_frames: int = 0
    #: frames a segment reads before its own to warm a recursive temporal stage (stabilize) up
    segment_warmup: int = 30
    model_cache: int = 2
    #: test-only: a worker kills itself with SIGSEGV after this many frames of a job's first attempt
    test_segfault_after_frames: int | None = None
    weights_path: tuple[Path, ...] = ()  # searched before the repo's weights/ folder
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        """Read and validate the environment; raises ConfigError on the first bad value."""
        env = dict(os.environ if env is None else env)
        queue = env.get("ENHANCE_QUEUE", "local").strip() or "local"
        if queue not in ("local", "celery"):
            raise ConfigError(f"ENHANCE_QUEUE must be 'local' or 'celery', got {queue!r}")
        broker = env.get("ENHANCE_BROKER_URL") or None
        if queue == "celery" and not broker:
            raise ConfigError("ENHANCE_QUEUE=celery needs ENHANCE_BROKER_URL (e.g. redis://localhost:6379/0)")
        device = env.get("ENHANCE_DEVICE", "auto").strip() or "auto"
        if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
            raise ConfigError(f"ENHANCE_DEVICE must be auto, cpu or cuda[:N], got {device!r}")
        rate = env.get("ENHANCE_RATE_LIMIT", "").strip() or None
        if rate and not _valid_rate(rate):
            raise ConfigError(f"ENHANCE_RATE_LIMIT must look like '30/minute', got {rate!r}")
        keys = tuple(k.strip() for k in env.get("ENHANCE_API_KEYS", "").split(",") if k.strip())
        return cls(
            data_dir=Path(env.get("ENHANCE_DATA_DIR", "").strip() or "data").resolve(),
            database_url=env.get("ENHANCE_DATABASE_URL", "").strip() or None,
            queue=queue,
            broker_url=broker,
            default_model=env.get("ENHANCE_DEFAULT_MODEL", "").strip() or "realesr-animevideov3",
            device=device,
            # worker processes ./run.sh starts beside the API: one in the embedded mode; in the Celery mode
            # workers usually run on other (GPU) machines, so none unless asked for
            workers=_int(env, "ENHANCE_WORKERS", 1 if queue == "local" else 0, minimum=0),
            max_upload_mb=_int(env, "ENHANCE_MAX_UPLOAD_MB", 2048, minimum=1),
            max_output_pixels=_int(env, "ENHANCE_MAX_OUTPUT_PIXELS", None, minimum=1),
            max_frames=_int(env, "ENHANCE_MAX_FRAMES", None, minimum=1),
            max_queued=_int(env, "ENHANCE_MAX_QUEUED", 100, minimum=1),
            api_keys=keys,
            result_ttl_hours=_float(env, "ENHANCE_RESULT_TTL_HOURS", 24.0, minimum=0),
            allow_noncommercial=_bool(env, "ENHANCE_ALLOW_NONCOMMERCIAL"),
            webhook_secret=env.get("ENHANCE_WEBHOOK_SECRET") or None,
            webhook_allow_private=_bool(env, "ENHANCE_WEBHOOK_ALLOW_PRIVATE"),
            rate_limit=rate,
            max_queued_per_key=_int(env, "ENHANCE_MAX_QUEUED_PER_KEY", None, minimum=1),
            max_stored_mb_per_key=_int(env, "ENHANCE_MAX_STORED_MB_PER_KEY", None, minimum=1),
            model_cache=_int(env, "ENHANCE_MODEL_CACHE", 2, minimum=1),
            test_segfault_after_frames=_int(env, "ENHANCE_TEST_SEGFAULT_AFTER_FRAMES", None, minimum=1),
            webhook_tries=_int(env, "ENHANCE_WEBHOOK_TRIES", 8, minimum=1),
            webhook_backoff_seconds=_float(env, "ENHANCE_WEBHOOK_BACKOFF_SECONDS", 0.5, minimum=0.01),
            webhook_timeout_seconds=_float(env, "ENHANCE_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            max_streams=_int(env, "ENHANCE_MAX_STREAMS", 64, minimum=1),
            max_input_pixels=_int(env, "ENHANCE_MAX_INPUT_PIXELS", 7680 * 4320, minimum=1),
            max_duration_seconds=_float(env, "ENHANCE_MAX_DURATION_SECONDS", 4 * 3600.0, minimum=1),
            max_attempts=_int(env, "ENHANCE_MAX_ATTEMPTS", 3, minimum=1),
            heartbeat_seconds=_float(env, "ENHANCE_HEARTBEAT_SECONDS", 2.0, minimum=0.1),
            stale_seconds=_float(env, "ENHANCE_STALE_SECONDS", 30.0, minimum=1),
            segment_frames=_int(env, "ENHANCE_SEGMENT_FRAMES", 0, minimum=0),
            segment_warmup=_int(env, "ENHANCE_SEGMENT_WARMUP", 30, minimum=0),
            weights_path=_folders(env.get("ENHANCE_WEIGHTS_PATH", "")),
        )

    def with_overrides(self, overrides: dict) -> Settings:
        """A copy with some fields replaced (tests pass ``create_app({"ENHANCE": {...}})``)."""
        names = {f.name for f in fields(self)}
        unknown = set(overrides) - names
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(overrides)
        if not isinstance(values["data_dir"], Path):
            values["data_dir"] = Path(values["data_dir"]).resolve()
        if isinstance(values["weights_path"], str):
            values["weights_path"] = _folders(values["weights_path"])
        values["weights_path"] = tuple(Path(p).expanduser() for p in values["weights_path"])
        return Settings(**values)

    @property
    def limits(self) -> Limits:
        """The pipeline's bounds from ENHANCE_MAX_*: the same object for the upload's probe and the worker."""
        output = OutputLimits(max_frames=self.max_frames)
        if self.max_output_pixels is not None:
            output = OutputLimits(self.max_output_pixels, self.max_frames)
        return Limits(
            DecodeLimits(self.max_streams, self.max_input_pixels, self.max_duration_seconds),
            output,
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The job database: ENHANCE_DATABASE_URL, or SQLite in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'jobs.sqlite3'}"


def _folders(text: str) -> tuple[Path, ...]:
    """A search path (``os.pathsep``-separated, empty entries skipped) as folders, ``~`` expanded."""
    return tuple(Path(p).expanduser() for p in text.split(os.pathsep) if p.strip())


def _valid_rate(text: str) -> bool:
    """``N/unit`` with unit second, minute, hour or day."""
    count, sep, unit = text.partition("/")
    return bool(sep) and count.strip().isdigit() and unit.strip() in ("second", "minute", "hour", "day")
