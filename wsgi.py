"""WSGI entry point for gunicorn (``gunicorn wsgi:app``): the HTTP API and page only.

Jobs run in ``flask worker`` processes (``./run.sh`` starts and supervises them: ``app/supervise.py``).
"""

import sys

from app import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"configuration error: {exc}")
