"""WSGI entry point for gunicorn (``gunicorn wsgi:app``): the app with its embedded queue running."""

import sys

from app import ConfigError, create_app

try:
    app = create_app({"START_QUEUE": True})
except ConfigError as exc:
    sys.exit(f"configuration error: {exc}")
