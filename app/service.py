"""The service's parts, built once per process and kept in ``app.extensions["enhance"]``."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from . import webhooks
from .config import Settings
from .jobs.store import JobStore
from .jobs.submit import Jobs
from .storage import Storage


@dataclass
class Service:
    """Settings, job store, file storage and queue adapter of one process."""

    settings: Settings
    store: JobStore
    storage: Storage
    queue: object

    @property
    def jobs(self) -> Jobs:
        """The application layer over this service: submit, find, cancel, delete."""
        return Jobs(self)

    @classmethod
    def build(cls, settings: Settings) -> Service:
        """Connect to the database (at this release's schema), create folders, pick the queue adapter."""
        storage = Storage(settings.data_dir)
        storage.ensure()
        store = JobStore(settings.sqlalchemy_url)
        store.upgrade_schema()  # already done before serving (gunicorn.conf.py); cheap then
        store.on_end.append(webhooks.notify)  # every end of a job, wherever it happens, sends its webhook
        if settings.queue == "celery":
            from .queue.celery import CeleryQueue

            queue = CeleryQueue(settings, store, storage)
        else:
            from .queue.local import LocalQueue

            queue = LocalQueue(settings, store, storage)
        return cls(settings, store, storage, queue)


class LazyService:
    """Builds the Service on first use, so CLI commands that need no database never create one."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._service: Service | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        """Settings are known before the service is built."""
        return self._settings

    def get(self) -> Service:
        """The Service of this process, built once."""
        with self._lock:
            if self._service is None:
                self._service = Service.build(self._settings)
            return self._service
