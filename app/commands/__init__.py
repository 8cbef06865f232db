"""Flask CLI commands, one module per command group."""

from __future__ import annotations

import importlib

from flask import Flask

# module name -> attribute holding the click command or group
_COMMANDS = {
    "bench": "bench_command",
    "db": "db_group",
    "enhance": "enhance_command",
    "evaluate": "evaluate_command",
    "models": "models_command",
    "weights": "weights_group",
    "worker": "worker_command",
}


def register_commands(app: Flask) -> None:
    """Attach every CLI command that exists to ``app``."""
    for module_name, attr in _COMMANDS.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        app.cli.add_command(getattr(module, attr))
