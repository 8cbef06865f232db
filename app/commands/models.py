"""``flask models``: the registered enhancers, whether their weights are ready, and how to fetch them."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from models.catalog import catalog, search_dirs


# The app context carries the settings: the app factory has handed the weights path and the licence
# opt-in to models/ already, and the default model is read here (the same dicts serve GET /models).
@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (the same as GET /models).")
@with_appcontext
def models_command(as_json: bool) -> None:
    """List the enhancers: name, task, scale, licence, and whether their weights are ready."""
    entries = catalog()
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    click.echo(_table(entries))
    click.echo("")
    click.echo("Weights are looked for in (in order): " + ", ".join(search_dirs()))
    default = current_app.extensions["enhance"].settings.default_model
    entry = next((e for e in entries if e["name"] == default), None)
    if entry is not None and not entry["ready"]:
        click.echo(
            f"The default model {default} has no weights here: run `{entry['fetch']}` or set "
            "ENHANCE_WEIGHTS_PATH to a folder that has them (until then the page offers only ready models)"
        )
    if any(e["noncommercial"] for e in entries):
        accepted = any(e["noncommercial"] and e["allowed"] for e in entries)
        click.echo(
            "NC = non-commercial licence: "
            + (
                "accepted (ENHANCE_ALLOW_NONCOMMERCIAL=1)"
                if accepted
                else "refused unless ENHANCE_ALLOW_NONCOMMERCIAL=1"
            )
        )


def _licence(entry: dict) -> str:
    """The licence column; non-commercial ones are marked NC with whether the operator accepted them."""
    if not entry["noncommercial"]:
        return entry["licence"]
    return f"{entry['licence']} [NC: {'accepted' if entry['allowed'] else 'refused'}]"


def _weights(entry: dict) -> str:
    """The weights column: ready, none needed, or the command that fetches them."""
    if not entry["weights"]:
        return "none needed"
    return "ready" if entry["ready"] else f"missing: {entry['fetch']}"


def _table(entries: list[dict]) -> str:
    """A plain aligned text table of the catalog."""
    header = ("NAME", "TASK", "SCALE", "LICENCE", "WEIGHTS")
    rows = [header] + [(e["name"], e["task"], f"x{e['scale']:g}", _licence(e), _weights(e)) for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)
