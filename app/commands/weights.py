"""``flask weights download NAME... | --all`` and ``flask weights verify``.

Exit codes: 0 done; 2 unknown name or bad usage (stderr lists what is allowed); 1 a download or
checksum failed (the other files are still fetched), or ``verify`` found a corrupt file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from tqdm import tqdm

from models import download as dl
from models.errors import EnhanceError, UnknownModel
from models.weights import WeightsFile, search_dirs

weights_group = AppGroup("weights", help="Download the official pretrained weights and check their sha256.")


# with_appcontext=False: fetching files needs no app, and the commands then work even where it cannot start
@weights_group.command("download", with_appcontext=False)
@click.argument("names", nargs=-1)
@click.option("--all", "all_files", is_flag=True, help="Every file in the manifest.")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to put the files in (default: the first writable weights folder).",
)
@click.option("--force", is_flag=True, help="Download again even when a valid copy exists.")
def download_command(names: tuple[str, ...], all_files: bool, dest: Path | None, force: bool) -> None:
    """Download the weights of the models (or manifest paths) NAME..., checking their sha256."""
    if not names and not all_files:
        _fail(2, "name at least one model (e.g. realesr-animevideov3) or use --all; see `flask models`")
    try:
        entries = dl.resolve_names(names, all_files)
    except UnknownModel as exc:
        _fail(2, exc.detail)
    if not entries:
        click.echo(f"{', '.join(names)}: no weights needed")
        return
    failures = sum(not _fetch_one(entry, dest, force) for entry in entries)
    if dest is not None and dest.resolve() not in [d.resolve() for d in search_dirs()]:
        click.echo(f"note: {dest} is not on the search path; add it to ENHANCE_WEIGHTS_PATH to use it")
    if failures:
        _fail(1, f"{failures} of {len(entries)} file(s) failed; run the command again to retry or resume")


def _fetch_one(entry: WeightsFile, dest: Path | None, force: bool) -> bool:
    """Download one file with a progress bar; print the outcome; False on failure."""
    try:
        with _ProgressBar(entry.path) as bar:
            result = dl.download(entry, dest, bar.update, force=force)
    except EnhanceError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        return False
    if result.status == "present":
        click.echo(f"{entry.path}: already present at {result.path}")
    else:
        resumed = f" (resumed after {result.resumed_from} bytes)" if result.resumed_from else ""
        click.echo(f"{entry.path}: downloaded to {result.path}{resumed}")
    if not result.verified:
        click.echo(
            f"warning: {entry.path} could not be checksum-verified: no official sha256 is recorded for it; "
            f"its sha256 is {result.sha256}",
            err=True,
        )
    return True


class _ProgressBar:
    """A tqdm bar fed by download's progress(done, total) callback; silent when stderr is no terminal."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None

    def __enter__(self):
        return self

    def update(self, done: int, total: int | None) -> None:
        """Move the bar to ``done`` bytes (creating it on the first call, where the total is known)."""
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                initial=done,
                desc=self.label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=None,  # None: off when stderr is not a tty (logs, tests, CI)
                leave=False,
            )
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc_info):
        if self.bar is not None:
            self.bar.close()
        return False


@weights_group.command("verify", with_appcontext=False)
def verify_command() -> None:
    """Check the sha256 of every weights file found on the search path; exit 1 if one is corrupt."""
    results = dl.verify()
    width = max(len(r.path) for r in results)
    for r in results:
        click.echo(f"{_STATUS[r.status]:<11} {r.path:<{width}}  {_where(r)}")
    bad = [r for r in results if r.status == dl.MISMATCH]
    for r in bad:
        click.echo(f"error: {r.location}: {r.detail}: expected {r.expected}, got {r.actual}", err=True)
    if bad:
        _fail(1, "corrupt weights files: delete them and run `flask weights download` again")


_STATUS = {dl.OK: "ok", dl.MISSING: "missing", dl.MISMATCH: "MISMATCH", dl.UNVERIFIED: "unverified"}


def _where(result: dl.VerifyResult) -> str:
    """The last column of verify's table: where the file is, or why it is not checked."""
    if result.status == dl.MISSING:
        return "(not downloaded)"
    if result.status == dl.UNVERIFIED:
        return f"{result.location} (no checksum recorded; sha256 {result.actual})"
    return str(result.location)


def _fail(code: int, message: str):
    """Print ``message`` on stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)
