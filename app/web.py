"""The web page at ``/``."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("web", __name__)


@bp.get("/")
def index():
    """The upload / watch / download page."""
    return render_template("index.html")
