"""Flask CLI commands, one module per command group, imported only when a command is run or listed.

The app factory builds the app for every process, the HTTP tier's included: importing ``flask bench`` or
``flask enhance`` there would load torch, PyAV and OpenCV into processes that never enhance anything. So
``app.cli`` is a group that knows the commands by name and imports a command's module on first use (the
lazy-loading recipe of Click's documentation, "Lazily Loading Subcommands").
"""

from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import AppGroup

# command name -> (module under app.commands, attribute holding the click command or group)
_COMMANDS = {
    "bench": ("bench", "bench_command"),
    "db": ("db", "db_group"),
    "enhance": ("enhance", "enhance_command"),
    "evaluate": ("evaluate", "evaluate_command"),
    "models": ("models", "models_command"),
    "weights": ("weights", "weights_group"),
    "worker": ("worker", "worker_command"),
}


class LazyAppGroup(AppGroup):
    """An AppGroup whose commands are imported when they are looked up, not when the app is built."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, without importing any."""
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command ``name``, importing its module the first time."""
        if name in _COMMANDS and name not in self.commands:
            module_name, attr = _COMMANDS[name]
            module = importlib.import_module(f"{__name__}.{module_name}")
            self.add_command(getattr(module, attr), name)
        return super().get_command(ctx, name)


def register_commands(app: Flask) -> None:
    """Give ``app`` the lazily loaded CLI (before any blueprint adds commands of its own)."""
    lazy = LazyAppGroup(name=app.cli.name)
    for name, command in app.cli.commands.items():
        lazy.add_command(command, name)
    app.cli = lazy
