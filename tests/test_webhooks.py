"""Signed webhooks: one delivery per ended job, retries with back-off, SSRF and DNS-rebinding refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest
import requests

from app import create_app, webhooks
from app.jobs.models import Job, utcnow
from app.jobs.store import JobStore
from app.webhooks import netguard
from tests.media import make_video
from tests.receiver import Receiver
from tests.server import Server, wait_until

SECRET = "webhook-secret-" + hashlib.sha256(b"s").hexdigest()[:16]


def verified(headers: dict, body: bytes) -> dict:
    """The document, after checking its signature over the exact body bytes."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Enhance-Signature"], expected)
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", width=32, height=24, frames=2, audio=None)


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two gunicorn processes (two sweepers, one queue), private destinations allowed for the receiver."""
    srv = Server(
        tmp_path_factory.mktemp("hooks"),
        workers=2,
        env={
            "ENHANCE_WEBHOOK_SECRET": SECRET,
            "ENHANCE_WEBHOOK_ALLOW_PRIVATE": "1",
            "ENHANCE_WEBHOOK_BACKOFF_SECONDS": "0.2",
            "ENHANCE_WEBHOOK_TRIES": "4",
            "ENHANCE_WEBHOOK_TIMEOUT_SECONDS": "5",
        },
    ).start()
    yield srv
    srv.stop()


def deliveries(receiver: Receiver, path: str, count: int = 1, timeout: float = 30) -> list:
    return wait_until(
        lambda: (calls := receiver.for_path(path)) and len(calls) >= count and calls,
        timeout,
        0.05,
        f"{count} webhook(s) at {path}",
    )


def test_each_finished_job_gets_one_signed_delivery(server, receiver, clip):
    jobs = [
        server.submit(clip, model="bicubic", webhook_url=f"{receiver.url}/done/{i}").json() for i in range(3)
    ]
    for i, job in enumerate(jobs):
        (headers, body, _), *more = deliveries(receiver, f"/done/{i}")
        assert not more
        doc = verified(headers, body)
        assert doc == server.job(job["id"])  # the final job document, as GET /jobs/<id> shows it
        assert doc["status"] == "succeeded" and doc["result_url"] == f"/jobs/{job['id']}/result"
        assert headers["X-Enhance-Job"] == job["id"]


def test_a_failing_receiver_gets_the_document_on_the_third_try(server, clip):
    with Receiver(fail_first=2) as flaky:
        job = server.submit(clip, model="bicubic", webhook_url=f"{flaky.url}/flaky").json()
        calls = deliveries(flaky, "/flaky", 3)
        time.sleep(1.0)  # and nothing after the success
        assert len(flaky.for_path("/flaky")) == 3
    bodies = {body for _, body, _ in calls}
    assert len(bodies) == 1  # every try sends the same bytes
    assert verified(calls[2][0], calls[2][1])["id"] == job["id"]
    assert [h["X-Enhance-Attempt"] for h, _, _ in calls] == ["1", "2", "3"]
    gaps = [later[2] - earlier[2] for earlier, later in zip(calls, calls[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps  # exponential back-off: 0.2 s, then 0.4 s


def test_canceled_jobs_are_announced_once(server, receiver, clip, tmp_path):
    long_clip = make_video(tmp_path / "long.mp4", width=160, height=120, frames=400, audio=None)
    running = server.submit(
        long_clip, model="realesr-animevideov3", webhook_url=f"{receiver.url}/c/run"
    ).json()
    server.wait_status(running["id"], ("running",), 60)
    queued = server.submit(clip, model="bicubic", webhook_url=f"{receiver.url}/c/queued").json()
    assert server.job(queued["id"])["status"] == "queued"
    for job in (
        queued,
        running,
    ):  # the queued one never reaches a worker; the running one stops in its worker
        assert requests.delete(f"{server.url}/jobs/{job['id']}", timeout=10).status_code == 204
    for path, job in (("/c/queued", queued), ("/c/run", running)):
        (headers, body, _), *more = deliveries(receiver, path)
        assert not more
        doc = verified(headers, body)
        assert (doc["id"], doc["status"]) == (job["id"], "canceled")


def test_a_slow_receiver_never_blocks_the_worker(server, clip):
    with Receiver(delay=3.0) as slow:
        first = server.submit(clip, model="bicubic", webhook_url=f"{slow.url}/slow").json()
        deliveries(slow, "/slow")  # the POST has arrived; its answer takes 3 s
        started = time.monotonic()
        second = server.submit(clip, model="bicubic").json()
        assert server.wait_status(second["id"], ("succeeded",), 10)
        assert time.monotonic() - started < 2.5, "the next job waited for the webhook"
        assert server.job(first["id"])["status"] == "succeeded"
        time.sleep(3.0)
        assert len(slow.for_path("/slow")) == 1


def test_no_duplicate_after_the_sweepers_looked(server, receiver):
    time.sleep(webhooks.SWEEP_SECONDS + 1.5)  # both processes' sweepers ran at least once since
    counts = receiver.paths()
    assert counts and set(counts.values()) == {1}, counts
    store = JobStore(f"sqlite:///{server.data_dir / 'jobs.sqlite3'}")
    states = {
        webhooks.delivery_state(store, j.id).state for j in store.list(None, 100, 0)[0] if j.webhook_url
    }
    assert states == {"delivered"}


# -- refusals at submit time (test client: no server needed) ---------------------------------------
def client(tmp_path, **settings):
    app = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path, **settings}})
    return app.test_client()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://[::1]/hook", "http://0.0.0.0/hook"],
)
def test_loopback_webhook_is_refused_by_default(tmp_path, url):
    r = client(tmp_path, webhook_secret=SECRET).post("/enhance", data={"webhook_url": url})
    assert r.status_code == 400 and r.content_type.startswith("application/problem+json")
    assert "ENHANCE_WEBHOOK_ALLOW_PRIVATE" in r.json["detail"]


def test_webhooks_need_a_secret_and_private_targets_need_the_opt_in(tmp_path):
    r = client(tmp_path).post("/enhance", data={"webhook_url": "https://example.com/hook"})
    assert r.status_code == 400 and "ENHANCE_WEBHOOK_SECRET" in r.json["detail"]
    allowed = client(tmp_path, webhook_secret=SECRET, webhook_allow_private=True)
    r = allowed.post("/enhance", data={"webhook_url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 400 and "file" in r.json["detail"]  # the URL passed; the upload is missing


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:7f00:1::", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not a public address"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_classes(address, kind):
    refused = netguard.address_refused(address)
    assert (refused is None) if kind is None else (kind in refused)


# -- delivery-time checks: DNS answers change ----------------------------------------------------
def fake_dns(monkeypatch, answers: dict[str, list]) -> list:
    """Make ``netguard`` resolve names from ``answers`` (each lookup pops the next list); returns the log."""
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        addresses = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_dns_rebinding_is_refused_at_delivery(monkeypatch):
    with Receiver() as rx:
        port = int(rx.url.rsplit(":", 1)[1])
        url = f"http://hooks.example:{port}/rebind"
        fake_dns(monkeypatch, {"hooks.example": [["93.184.216.34"], ["127.0.0.1"]]})
        netguard.check_url(url, allow_private=False)  # at submit: a public address
        with pytest.raises(netguard.UrlRefused, match="loopback"):
            netguard.post(url, b"{}", {}, allow_private=False, timeout=2)  # later: loopback
        fake_dns(monkeypatch, {"hooks.example": [["93.184.216.34", "127.0.0.1"]]})
        with pytest.raises(netguard.UrlRefused, match="loopback"):  # one bad address is enough
            netguard.check_url(url, allow_private=False)
        assert rx.paths() == {}


def test_delivery_connects_to_the_address_it_checked(monkeypatch):
    with Receiver() as rx:
        port = int(rx.url.rsplit(":", 1)[1])
        lookups = fake_dns(monkeypatch, {"hooks.example": [["127.0.0.1"]]})
        status = netguard.post(
            f"http://hooks.example:{port}/pinned", b"{}", {}, allow_private=True, timeout=5
        )
        assert status == 200
        (headers, _, _), *_ = rx.for_path("/pinned")
        assert headers["Host"] == f"hooks.example:{port}"  # the name, while the socket went to the checked IP
        assert lookups == ["hooks.example"]  # resolved once: http.client did not look the name up again


def _finished_job(tmp_path, url: str) -> tuple[JobStore, Job]:
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    store.upgrade_schema()
    job = Job(id="j1", model="bicubic", options={}, status="failed", finished_at=utcnow(), webhook_url=url)
    store.add(job)
    return store, job


def test_a_rebound_destination_is_recorded_as_refused_and_not_retried(tmp_path, monkeypatch):
    store, job = _finished_job(tmp_path, "http://hooks.example/hook")
    lookups = fake_dns(monkeypatch, {"hooks.example": [["127.0.0.1"]]})
    config = webhooks.WebhookConfig(secret=SECRET, allow_private=False, tries=5, backoff=0.01, timeout=1)
    dispatcher = webhooks.Dispatcher(config)
    dispatcher.notify(store, job.id)
    wait_until(lambda: (d := webhooks.delivery_state(store, job.id)) and d.state == "refused", 10)
    time.sleep(0.2)
    dispatcher.stop()
    assert lookups == ["hooks.example"]
    assert "loopback" in webhooks.delivery_state(store, job.id).last_error


def test_the_sweeper_announces_ends_nobody_announced(tmp_path, monkeypatch):
    """E.g. a job the janitor failed because its worker kept dying: no runner returned for it."""
    monkeypatch.setattr(webhooks, "SWEEP_SECONDS", 0.1)
    with Receiver() as rx:
        store, job = _finished_job(tmp_path, f"{rx.url}/swept")
        config = webhooks.WebhookConfig(secret=SECRET, allow_private=True, tries=2, backoff=0.01, timeout=2)
        dispatcher = webhooks.Dispatcher(config)
        try:
            dispatcher.start_sweeper(store)
            dispatcher.start_sweeper(store)  # idempotent
            (headers, body, _), *_ = deliveries(rx, "/swept", timeout=10)
            assert verified(headers, body)["status"] == "failed"
            time.sleep(0.5)  # several more sweeps: still one delivery
            assert rx.paths() == {"/swept": 1}
        finally:
            dispatcher.stop()
