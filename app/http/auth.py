"""API keys: with ENHANCE_API_KEYS set, every route but /healthz, /readyz, / (and its files) needs a key.

Each key is a tenant; jobs store a hash of the key, never the key itself, and keys are never logged.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, current_app, g, request

from .problems import ApiProblem

OPEN_ENDPOINTS = {"ops.healthz", "ops.readyz", "web.index", "web.favicon", "static"}


def tenant_of(key: str) -> str:
    """The owner id stored with a tenant's jobs: a hash, so the key never reaches the database."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _matching_key(presented: str, keys: tuple[str, ...]) -> str | None:
    """The configured key equal to ``presented``, compared in constant time against every key."""
    # Digests have one length, so not even the length of a key leaks through the comparison time.
    wanted = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
    found = None
    for key in keys:
        if hmac.compare_digest(wanted, hashlib.sha256(key.encode()).digest()):
            found = key
    return found


def register_auth(app: Flask) -> None:
    """Check the Authorization header before every protected request."""

    @app.before_request
    def _require_key():
        keys = current_app.extensions["enhance"].settings.api_keys
        if not keys or request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
            return None
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise ApiProblem(
                401,
                "Unauthorized",
                "send 'Authorization: Bearer <key>'",
                "unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = _matching_key(presented.strip(), keys)
        if key is None:
            raise ApiProblem(
                401,
                "Unauthorized",
                "the API key is not valid",
                "unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
        g.tenant = tenant_of(key)
        return None
