"""The video enhancement service: Flask app factory."""

from __future__ import annotations

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: configuration, blueprints and CLI commands."""
    app = Flask(__name__)
    if test_config:
        app.config.update(test_config)
    from .commands import register_commands

    register_commands(app)
    return app
