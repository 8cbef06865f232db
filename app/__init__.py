"""The video enhancement service: Flask app factory."""

from __future__ import annotations

import os

from flask import Flask

# torch's OpenMP threads sleep when they run out of work instead of spinning for it (libgomp spins by
# default). Every process that enhances runs several teams at once (the enhance workers, a temporal stage,
# the encoder's threads) on cores they already fill, and a spinning team steals them: measured with
# `flask bench` on this project's 2-core CPU, stabilize's added cost fell from +40% to +17% and the plain
# model ran 6% faster. Set here, before anything imports torch (every entry point imports this package
# first); an operator's own OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .allocator import keep_frame_buffers
from .config import ConfigError, Settings

# glibc's malloc keeps frame-sized buffers for the next frame instead of unmapping them (allocator.py):
# set once per process here, where every process starts
keep_frame_buffers()


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings from ENHANCE_* (``test_config["ENHANCE"]`` overrides them), routes, CLI.

    No job runs in the process that builds the app: ``flask worker`` processes run them (``./run.sh``
    supervises them beside gunicorn), so CLI commands and tests using the test client never run jobs
    behind the caller's back, and nothing a job does can take an HTTP process down.
    """
    app = Flask(__name__)
    test_config = dict(test_config or {})
    overrides = test_config.pop("ENHANCE", {})
    app.config.update(test_config)
    from .commands import register_commands

    register_commands(app)
    settings = Settings.from_env().with_overrides(overrides)
    configure_libraries(settings)
    from .logging_setup import configure_logging
    from .service import LazyService

    configure_logging()
    lazy = LazyService(settings)
    app.extensions["enhance"] = lazy
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    from .http import api, ops, web
    from .http.auth import register_auth
    from .http.problems import register_problem_handlers

    register_problem_handlers(app)
    register_auth(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    return app


def configure_libraries(settings: Settings) -> None:
    """Hand this process's settings down to the enhancers and the pipeline, which never read the environment:
    the weights search path, the licence opt-in, and the decoder and output limits."""
    from models import licence, weights

    from .pipeline import limits

    weights.set_search_path(settings.weights_path)
    licence.set_allow_noncommercial(settings.allow_noncommercial)
    limits.configure(settings.limits)


__all__ = ["ConfigError", "configure_libraries", "create_app"]
