"""The per-key rate of job submission (ENHANCE_RATE_LIMIT, flask-limiter): an HTTP concern. The caps on what
a key may hold at once (ENHANCE_MAX_QUEUED_PER_KEY, ENHANCE_MAX_STORED_MB_PER_KEY) belong to the
application layer (``app.jobs.submit``).

Every limit is keyed by the tenant (the hash of its API key), so one tenant's traffic never limits another;
without API keys the rate limit falls back to the client address and the caps do not apply.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_limiter import Limiter

from . import sqllimits  # noqa: F401 - registers the enhance-sql:// storage scheme with limits

SUBMIT_ENDPOINT = "api.submit"


def rate_key() -> str:
    """Who is counted: the tenant (never the key: flask-limiter logs it), else the client address."""
    return g.get("tenant") or f"addr:{request.remote_addr or 'unknown'}"


def init_app(app: Flask) -> None:
    """Rate-limit POST /enhance per key when ENHANCE_RATE_LIMIT is set; counters live in the job database."""
    lazy = app.extensions["enhance"]
    rate = lazy.settings.rate_limit
    if not rate:
        return
    # Registered before the limiter's own after_request, so it runs after it (Flask runs them in reverse).
    app.after_request(_retry_after_at_least_one_second)
    limiter = Limiter(
        key_func=rate_key,
        app=app,
        strategy="moving-window",  # exact: never more than N in any window, even across a boundary
        storage_uri="enhance-sql://",
        storage_options={"engine": lambda: lazy.get().store.engine},
        headers_enabled=True,
        swallow_errors=True,  # a database hiccup while counting lets the request through, logged
        key_prefix="submit",
    )
    message = f"this API key sent more than {rate} job submissions (ENHANCE_RATE_LIMIT); retry later"
    view = app.view_functions[SUBMIT_ENDPOINT]
    app.view_functions[SUBMIT_ENDPOINT] = limiter.limit(rate, error_message=message)(view)


def _retry_after_at_least_one_second(response):
    """A 429 says when to come back; less than a second left rounds down to 0, an invitation to hammer."""
    if response.status_code == 429 and response.headers.get("Retry-After", "0").strip() in ("0", "-0", ""):
        response.headers["Retry-After"] = "1"
    return response
