"""Signed webhooks: one POST of the final job document when a job ends, retried with back-off, off the worker.

    job ends ──> notify(store, job_id)          returns at once (JobStore.on_end, or the sweeper)
                    │
                    ▼
    dispatcher thread: due tasks ──> delivery threads: claim the job's row in ``webhook_deliveries``
                                          (one per job: at most one process sends it), sign, POST
                                          └── failure: back in the queue after backoff * 2**attempt

The body is the job document as exact JSON bytes; ``X-Enhance-Signature: sha256=<hex>`` is their
HMAC-SHA256 with ENHANCE_WEBHOOK_SECRET. Destinations are checked again at every attempt (``netguard``).
Every end of a job (succeeded, failed, canceled, given up) is announced from one place, the job store's
final transitions (``JobStore.on_end``, which the service subscribes ``notify`` to). The sweeper, in each
worker process, announces ends a process could not send (it died right after the transition) and takes
over deliveries whose process died. The
delivery table is ``app.webhooks.store``.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..jobs.document import job_document
from ..jobs.models import FINISHED, Job
from . import netguard
from .store import claim, delivery_state, record, unannounced

log = logging.getLogger("app.webhooks")

DELIVERY_THREADS = 4
SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class WebhookConfig:
    """What a delivery needs from the settings."""

    secret: str | None = None
    allow_private: bool = False
    tries: int = 8
    backoff: float = 0.5
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings) -> WebhookConfig:
        """From Settings (ENHANCE_WEBHOOK_*)."""
        return cls(
            secret=settings.webhook_secret,
            allow_private=settings.webhook_allow_private,
            tries=settings.webhook_tries,
            backoff=settings.webhook_backoff_seconds,
            timeout=settings.webhook_timeout_seconds,
        )

    @property
    def lease_seconds(self) -> float:
        """Longer than every attempt and pause of one delivery together, so a live sender keeps its claim."""
        pauses = sum(self.backoff * 2**k for k in range(self.tries))
        return pauses + self.tries * (2 * self.timeout + 5) + 60


def sign(body: bytes, secret: str) -> str:
    """The X-Enhance-Signature value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(job: Job) -> bytes:
    """The exact bytes sent (and signed): the job document as compact JSON."""
    return json.dumps(job_document(job), separators=(",", ":"), sort_keys=True).encode()


# -- the dispatcher -------------------------------------------------------------------------------
@dataclass(order=True)
class _Task:
    due: float
    seq: int
    store: object = field(compare=False)
    job_id: str = field(compare=False)
    attempt: int = field(default=0, compare=False)
    url: str | None = field(default=None, compare=False)
    body: bytes | None = field(default=None, compare=False)


class Dispatcher:
    """This process's webhook sender: a scheduler thread and a few delivery threads, started on first use."""

    def __init__(self, config: WebhookConfig):
        self.config = config
        self._heap: list[_Task] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._pool: ThreadPoolExecutor | None = None
        self._sweeping: set[int] = set()
        self._stopping = threading.Event()

    def notify(self, store, job_id: str) -> None:
        """A job may have ended: send its webhook if it has one (never blocks: a queue push)."""
        self._push(_Task(time.monotonic(), next(self._seq), store, job_id))

    def start_sweeper(self, store) -> None:
        """Look for unannounced ends of ``store``'s jobs every SWEEP_SECONDS (once per store)."""
        with self._cond:
            if id(store) in self._sweeping:
                return
            self._sweeping.add(id(store))
        threading.Thread(target=self._sweep_loop, args=(store,), daemon=True, name="webhook-sweeper").start()

    def stop(self) -> None:
        """Stop the threads (pending retries are dropped; another process's sweeper takes them over)."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals -------------------------------------------------------------------------------
    def _push(self, task: _Task) -> None:
        with self._cond:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="webhook")
                threading.Thread(target=self._schedule, daemon=True, name="webhook-dispatcher").start()
            heapq.heappush(self._heap, task)
            self._cond.notify()

    def _schedule(self) -> None:
        """Hand each task to a delivery thread when it is due."""
        while not self._stopping.is_set():
            with self._cond:
                while not self._stopping.is_set() and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    self._cond.wait(self._heap[0].due - time.monotonic() if self._heap else None)
                if self._stopping.is_set():
                    return
                task = heapq.heappop(self._heap)
            self._pool.submit(self._run, task)

    def _run(self, task: _Task) -> None:
        try:
            self._attempt(task)
        except Exception:  # noqa: BLE001 - e.g. the database is briefly away: the sweeper retries later
            log.warning("webhook delivery step failed", extra={"job_id": task.job_id}, exc_info=True)

    def _attempt(self, task: _Task) -> None:
        """One delivery attempt; the first also claims the job and freezes the body."""
        cfg, store = self.config, task.store
        if task.body is None:
            job = store.get(task.job_id)
            if job is None or not job.webhook_url or job.status not in FINISHED:
                return
            if not claim(store, task.job_id, cfg.lease_seconds):
                return  # another thread or process sends it
            task.url, task.body = job.webhook_url, body_of(job)
        if not cfg.secret:
            log.warning("webhook not sent: ENHANCE_WEBHOOK_SECRET is not set", extra={"job_id": task.job_id})
            record(store, task.job_id, "failed", task.attempt, "ENHANCE_WEBHOOK_SECRET is not set")
            return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "video-enhance-webhook/1",
            "X-Enhance-Signature": sign(task.body, cfg.secret),
            "X-Enhance-Job": task.job_id,
            "X-Enhance-Attempt": str(task.attempt + 1),
        }
        host = _host(task.url)  # logs name the host only: the rest of a URL may hold a token
        try:
            status = netguard.post(task.url, task.body, headers, cfg.allow_private, cfg.timeout)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except netguard.UrlRefused as exc:
            log.warning("webhook refused: %s", exc, extra={"job_id": task.job_id})
            record(store, task.job_id, "refused", task.attempt + 1, str(exc))
            return
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            log.info("webhook delivered to %s", host, extra={"job_id": task.job_id})
            record(store, task.job_id, "delivered", task.attempt + 1)
            return
        if task.attempt + 1 >= cfg.tries:
            log.warning(
                "webhook to %s failed %d times: %s", host, cfg.tries, error, extra={"job_id": task.job_id}
            )
            record(store, task.job_id, "failed", task.attempt + 1, error)
            return
        record(store, task.job_id, "sending", task.attempt + 1, error)
        task.due = time.monotonic() + cfg.backoff * 2**task.attempt
        task.attempt += 1
        self._push(task)

    def _sweep_loop(self, store) -> None:
        while not self._stopping.wait(SWEEP_SECONDS):
            try:
                for job_id in unannounced(store):
                    self.notify(store, job_id)
            except Exception:  # noqa: BLE001 - the sweeper must outlive a database hiccup
                log.warning("webhook sweep failed", exc_info=True)


def _host(url: str) -> str:
    """The host of ``url`` for a log line ("?" when it does not parse)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


__all__ = ["Dispatcher", "WebhookConfig", "configure", "delivery_state", "notify", "sign"]


# -- the module's entry points --------------------------------------------------------------------
_dispatcher: Dispatcher | None = None
_lock = threading.Lock()


def configure(settings) -> Dispatcher:
    """Set this process's webhook settings (the app factory does it; otherwise they come from ENHANCE_*)."""
    global _dispatcher
    with _lock:
        config = WebhookConfig.from_settings(settings)
        if _dispatcher is None:
            _dispatcher = Dispatcher(config)
        else:
            _dispatcher.config = config
        return _dispatcher


def dispatcher() -> Dispatcher:
    """This process's dispatcher, configured from the environment when nobody configured it."""
    if _dispatcher is None:
        from ..config import Settings

        return configure(Settings.from_env())
    return _dispatcher


def notify(store, job_id: str) -> None:
    """A job may have ended: queue its webhook, if it has one, and return at once."""
    try:
        dispatcher().notify(store, job_id)
    except Exception:  # noqa: BLE001 - a webhook problem must never fail the job or the request
        log.warning("cannot queue the webhook", extra={"job_id": job_id}, exc_info=True)
