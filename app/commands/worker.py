"""``flask worker``: run a worker for the configured queue in the foreground."""

from __future__ import annotations

import sys
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from app import webhooks
from app.config import ConfigError
from app.jobs.runner import prepare_worker


@click.command("worker")
@click.option("--concurrency", type=int, default=None, help="Jobs run at once (default ENHANCE_WORKERS).")
@with_appcontext
def worker_command(concurrency: int | None) -> None:
    """Run jobs from the queue until interrupted."""
    service = current_app.extensions["enhance"].get()
    count = concurrency if concurrency is not None else max(1, service.settings.workers)
    try:
        if service.settings.queue == "celery":
            service.queue.run_worker(count, service)
            return
        prepare_worker(service.settings)  # a worker whose device is missing must not start
    except ConfigError as exc:  # e.g. ENHANCE_DEVICE=cuda without a GPU: one line naming the variable
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if service.settings.webhook_secret:
        webhooks.dispatcher().start_sweeper(service.store)  # retries webhooks a dead process left unsent
    queue = service.queue
    click.echo(f"worker {queue.name}: {count} thread(s) on the local queue; Ctrl-C to stop", err=True)
    for i in range(count):
        threading.Thread(target=queue.work, daemon=True, name=f"worker-{i}").start()
    try:
        queue.janitor()
    except KeyboardInterrupt:
        queue.stop()
