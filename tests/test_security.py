"""Multi-tenant security against real gunicorn processes: keys, isolation, rate limits, quotas, upload
limits, hostile names, decoder limits and a full disk."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import av
import numpy as np
import pytest
import requests

from app.pipeline.probing import DecodeLimits, probe
from models.errors import TooLarge
from tests.media import make_video
from tests.server import Server, wait_until

PROBLEM = "application/problem+json"
# Long, unique keys: a match in the logs cannot be a coincidence.
KEY_A = "key-alpha-" + hashlib.sha256(b"a").hexdigest()[:24]
KEY_B = "key-bravo-" + hashlib.sha256(b"b").hexdigest()[:24]
KEY_NOISY = "key-noisy-" + hashlib.sha256(b"n").hexdigest()[:24]
WRONG_KEY = "key-wrong-" + hashlib.sha256(b"w").hexdigest()[:24]
RATE = 5  # submissions per minute per key on the main server; every test but the noisy one stays under it


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: requests.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


def submit(server: Server, key: str, path, name: str | None = None, **fields) -> requests.Response:
    with open(path, "rb") as f:
        return requests.post(
            server.url + "/enhance",
            files={"file": (name or path.name, f)},
            data={"model": "bicubic", **fields},
            headers=auth(key),
            timeout=60,
        )


def wait_done(server: Server, key: str, job_id: str, timeout: float = 60) -> dict:
    def done():
        doc = requests.get(f"{server.url}/jobs/{job_id}", headers=auth(key), timeout=10).json()
        return doc if doc["status"] in ("succeeded", "failed", "canceled") else None

    return wait_until(done, timeout, 0.1, f"job {job_id} to finish")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", width=32, height=24, frames=2, audio=None)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two gunicorn processes (so limits must be shared between them), three keys, access log on."""
    srv = Server(
        tmp_path_factory.mktemp("sec"),
        workers=2,
        env={
            "ENHANCE_API_KEYS": f"{KEY_A},{KEY_B},{KEY_NOISY}",
            "ENHANCE_RATE_LIMIT": f"{RATE}/minute",
            "ENHANCE_WEBHOOK_SECRET": "webhook-secret",
            "GUNICORN_CMD_ARGS": "--access-logfile -",
        },
    ).start()
    yield srv
    srv.stop()


# -- API keys ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {KEY_A}"},
        {"Authorization": f"Bearer {WRONG_KEY}"},
        {"Authorization": f"Bearer {KEY_A}x"},
        {"Authorization": f"Bearer {KEY_A[:-1]}"},
    ],
    ids=["none", "empty", "no-key", "basic", "wrong", "longer", "prefix"],
)
def test_missing_or_wrong_key_is_401_on_every_protected_route(server, headers):
    for method, path in [
        ("get", "/jobs"),
        ("post", "/enhance"),
        ("get", "/jobs/abc"),
        ("get", "/jobs/abc/result"),
        ("get", "/jobs/abc/input"),
        ("delete", "/jobs/abc"),
        ("get", "/models"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
        ("get", "/docs"),
    ]:
        r = requests.request(method, server.url + path, headers=headers, timeout=10)
        assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_open_routes_need_no_key(server):
    for path in ("/healthz", "/readyz", "/"):
        assert requests.get(server.url + path, timeout=10).status_code == 200


def test_tenants_are_isolated(server, clip):
    job = submit(server, KEY_A, clip).json()
    done = wait_done(server, KEY_A, job["id"])
    assert done["status"] == "succeeded", done["error"]
    base = f"{server.url}/jobs/{job['id']}"
    unknown = assert_problem(
        requests.get(f"{server.url}/jobs/no-such-job", headers=auth(KEY_B), timeout=10), 404
    )
    # B can neither read, download, fetch the input of, nor cancel A's job: 404, as for an unknown job
    for method, url in [("get", base), ("get", base + "/result"), ("get", base + "/input"), ("delete", base)]:
        body = assert_problem(requests.request(method, url, headers=auth(KEY_B), timeout=10), 404)
        assert body["title"] == unknown["title"]
    listing = requests.get(server.url + "/jobs", headers=auth(KEY_B), timeout=10).json()
    assert listing["total"] == 0 and listing["jobs"] == []
    # A still has everything
    assert requests.get(base + "/result", headers=auth(KEY_A), timeout=10).status_code == 200
    mine = requests.get(server.url + "/jobs", headers=auth(KEY_A), timeout=10).json()
    assert job["id"] in [j["id"] for j in mine["jobs"]]


def test_job_ids_never_reach_the_filesystem(server):
    for path in ("/jobs/..%2F..%2Fetc%2Fpasswd/result", "/jobs/../../etc/passwd", "/jobs/%2e%2e/input"):
        r = requests.get(server.url + path, headers=auth(KEY_B), timeout=10)
        assert r.status_code == 404, (path, r.status_code)


# -- rate limit ----------------------------------------------------------------------------------
def test_rate_limit_answers_429_to_the_noisy_key_only(server, clip):
    # 3 * RATE submissions at once, spread over both gunicorn processes: exactly RATE get through
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: submit(server, KEY_NOISY, clip), range(3 * RATE)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * RATE + [429] * (2 * RATE), codes
    limited = next(r for r in answers if r.status_code == 429)
    body = assert_problem(limited, 429, "ENHANCE_RATE_LIMIT")
    assert body["type"].endswith("too-many-requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # the other tenants are not limited by the noisy one's traffic
    assert submit(server, KEY_B, clip).status_code == 202
    assert requests.get(server.url + "/jobs", headers=auth(KEY_NOISY), timeout=10).status_code == 200


# -- hostile names -------------------------------------------------------------------------------
def _raw_multipart(filename: bytes, payload: bytes) -> tuple[bytes, str]:
    """A multipart body with the filename exactly as given (requests would percent-encode CR/LF)."""
    boundary = "hostile-boundary-7d1"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nbicubic\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: video/mp4\r\n\r\n'
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _check_download_name(server: Server, job: dict) -> str:
    """The job's result comes with a plain ASCII file name and no injected header; returns the name."""
    assert "/" not in job["input"]["name"] and ".." not in job["input"]["name"]
    done = wait_done(server, KEY_A, job["id"])
    result = requests.get(server.url + done["result_url"], headers=auth(KEY_A), timeout=10)
    disposition = result.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
    filename = re.search(r'filename="?([^";]+)"?', disposition).group(1)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", filename) and not filename.startswith("."), disposition
    assert "X" not in result.headers  # no header was injected
    return filename


def test_hostile_upload_names_never_reach_a_path_or_a_header(server, clip):
    # A raw CR/LF ends the part's header line: Werkzeug then sees no file at all (400, nothing stored).
    body, ctype = _raw_multipart(b"../../etc/passwd\r\nX: y.mp4", clip.read_bytes())
    r = requests.post(
        server.url + "/enhance", data=body, headers={**auth(KEY_A), "Content-Type": ctype}, timeout=30
    )
    assert_problem(r, 400, "file")
    # Unicode and markup are reduced to ASCII.
    body, ctype = _raw_multipart("видео 🎬 <script>.mp4".encode(), clip.read_bytes())
    r = requests.post(
        server.url + "/enhance", data=body, headers={**auth(KEY_A), "Content-Type": ctype}, timeout=30
    )
    assert r.status_code == 202, r.text
    assert _check_download_name(server, r.json()) == "script-bicubic.mp4"
    # The same traversal as browsers send it (CR/LF percent-encoded): a flat, harmless name.
    r = submit(server, KEY_A, clip, name="../../etc/passwd\r\nX: y.mp4")
    assert r.status_code == 202, r.text
    assert _check_download_name(server, r.json()).startswith("etc_passwd")
    # only the service's own names exist on disk
    for path in (server.data_dir / "uploads").rglob("*"):
        assert path.is_dir() or path.name == "input", path


# -- keys never logged ---------------------------------------------------------------------------
def test_keys_never_reach_the_logs(server):
    log = server.log.read_text()
    assert '"POST /enhance HTTP/1.1" 202' in log  # the access log is on, so the check means something
    for secret in (KEY_A, KEY_B, KEY_NOISY, WRONG_KEY, "webhook-secret"):
        assert secret not in log


# -- upload size, queue and storage caps (a second server with small limits, no workers) ----------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("small"),
        env={
            "ENHANCE_API_KEYS": "key-c,key-d,key-e,key-g,key-h",
            "ENHANCE_WEBHOOK_SECRET": "webhook-secret",  # private destinations stay refused (the default)
            "ENHANCE_WORKERS": "0",  # jobs stay queued: the caps are what is tested
            "ENHANCE_MAX_UPLOAD_MB": "1",
            "ENHANCE_MAX_QUEUED_PER_KEY": "2",
            "ENHANCE_MAX_STORED_MB_PER_KEY": "1",
            "ENHANCE_MAX_STREAMS": "4",
            "ENHANCE_MAX_INPUT_PIXELS": str(320 * 240),
            "ENHANCE_MAX_DURATION_SECONDS": "60",
        },
    ).start()
    yield srv
    srv.stop()


def _worker_rss_kb(server: Server) -> int:
    """Resident memory of the (single) gunicorn worker process."""
    master = server.proc.pid
    children = []
    for task in os.listdir(f"/proc/{master}/task"):
        with open(f"/proc/{master}/task/{task}/children") as f:
            children += [int(p) for p in f.read().split()]
    assert len(children) == 1, children
    with open(f"/proc/{children[0]}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def _stream_upload(server: Server, total: int, chunked: bool) -> tuple[bytes, int]:
    """Send a ``total``-byte upload slowly; returns the response head and how much was sent when it came."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    sock.sendall(
        (
            "POST /enhance HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer key-c\r\n"
            f"Content-Type: multipart/form-data; boundary=b0\r\n{length}\r\n\r\n"
        ).encode()
    )
    answer: dict = {}
    sent = 0

    def read():
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(4096)
            if not part:
                break
            data += part
        answer["head"], answer["sent"] = data, sent

    reader = threading.Thread(target=read)
    reader.start()
    chunk = b'--b0\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    chunk += b"\0" * (65536 - len(chunk))
    try:
        while sent < total and "head" not in answer:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            sent += len(chunk)
            chunk = b"\0" * 65536
    except OSError:  # the server closed the connection after answering: expected
        pass
    reader.join(30)
    sock.close()
    return answer.get("head", b""), answer.get("sent", sent)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_upload_is_413_early_without_buffering(small, chunked):
    total = 50 * 1024 * 1024
    before = _worker_rss_kb(small)
    head, sent_when_answered = _stream_upload(small, total, chunked)
    grown_mb = (_worker_rss_kb(small) - before) / 1024
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    # the answer came while most of the 50 MB was still unsent (socket buffers hold a few MB)
    assert sent_when_answered < 16 * 1024 * 1024, sent_when_answered
    assert grown_mb < 20, f"worker RSS grew by {grown_mb:.1f} MB"
    assert requests.get(small.url + "/healthz", timeout=10).status_code == 200


def test_queued_jobs_per_key_are_capped(small, clip):
    assert submit(small, "key-d", clip).status_code == 202
    assert submit(small, "key-d", clip).status_code == 202
    r = submit(small, "key-d", clip)
    assert_problem(r, 429, "ENHANCE_MAX_QUEUED_PER_KEY")
    assert int(r.headers["Retry-After"]) >= 1
    assert submit(small, "key-e", clip).status_code == 202  # another key is not affected


def _noise_video(path, frames: int):
    """A lossless video of random noise: it does not compress (about 29 KB a frame)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"crf": "0"}
        for _ in range(frames):
            image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_stored_bytes_per_key_are_capped(small, tmp_path, clip):
    big = _noise_video(tmp_path / "noise.mp4", 20)
    assert 500 * 1024 < big.stat().st_size < 1024 * 1024
    first = submit(small, "key-c", big)
    assert first.status_code == 202, first.text
    assert_problem(submit(small, "key-c", big), 413, "ENHANCE_MAX_STORED_MB_PER_KEY")
    assert submit(small, "key-h", big).status_code == 202  # another key is not affected
    # deleting the job frees the quota
    assert (
        requests.delete(
            f"{small.url}/jobs/{first.json()['id']}", headers=auth("key-c"), timeout=10
        ).status_code
        == 204
    )
    assert submit(small, "key-c", big).status_code == 202


# -- webhooks: the default refuses private destinations ------------------------------------------
@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("ftp://example.com/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:pw@example.com/", "credentials"),
    ],
)
def test_private_or_odd_webhook_urls_are_refused(small, url, word):
    # no file needed: the URL is checked before the upload is looked at
    r = requests.post(small.url + "/enhance", data={"webhook_url": url}, headers=auth("key-g"), timeout=10)
    assert_problem(r, 400, "webhook_url", word)


# -- decoder limits ------------------------------------------------------------------------------
def test_decoder_limits_refuse_crafted_inputs_with_422(small, tmp_path):
    many_streams = make_video(tmp_path / "streams.mkv", width=32, height=24, frames=4, audio_tracks=6)
    too_big = make_video(tmp_path / "big.mp4", width=640, height=480, frames=1, audio=None)
    too_long = make_video(
        tmp_path / "long.mp4",
        width=32,
        height=24,
        frames=2,
        audio=None,
        pts=[0, 1200],
        time_base=Fraction(1, 12),
    )
    for path, word in [
        (many_streams, "ENHANCE_MAX_STREAMS"),
        (too_big, "ENHANCE_MAX_INPUT_PIXELS"),
        (too_long, "ENHANCE_MAX_DURATION_SECONDS"),
    ]:
        assert_problem(submit(small, "key-g", path), 422, word)


def test_the_demuxer_refuses_thousands_of_streams_before_allocating_them(tmp_path):
    path = make_video(tmp_path / "s.mkv", width=16, height=16, frames=2, audio_tracks=12)
    with pytest.raises(TooLarge, match="ENHANCE_MAX_STREAMS"):
        probe(str(path), DecodeLimits(max_streams=3))  # FFmpeg's own max_streams stops at 4
    with pytest.raises(TooLarge, match="ENHANCE_MAX_STREAMS"):
        probe(str(path), DecodeLimits(max_streams=12))  # 13 streams: our check names the limit


# -- disk full -----------------------------------------------------------------------------------
def _mount_tmpfs(folder, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    return run.returncode == 0


def test_disk_full_fails_the_job_clearly_and_the_next_job_works(tmp_path, clip):
    """The results folder is a 2 MB tmpfs; an FFV1 upscale overflows it."""
    data = tmp_path / "data"
    results = data / "results"
    if not _mount_tmpfs(results, "2m"):
        pytest.skip("mount -t tmpfs is not permitted here; test_disk_full_in_process covers ENOSPC")
    srv = None
    try:
        srv = Server(data, env={"ENHANCE_API_KEYS": "key-f"}).start()
        big = make_video(tmp_path / "big.mp4", width=160, height=120, frames=30, audio=None)
        job = submit(srv, "key-f", big, codec="ffv1").json()
        failed = wait_done(srv, "key-f", job["id"])
        assert failed["status"] == "failed"
        assert failed["error"]["type"] == "output-error"
        assert "no space left" in failed["error"]["detail"]
        assert not list(results.rglob("*.part*"))  # the half-written file is gone, its space is free
        assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
        nxt = submit(srv, "key-f", clip).json()
        assert wait_done(srv, "key-f", nxt["id"])["status"] == "succeeded"
    finally:
        if srv is not None:
            srv.stop()
        subprocess.run(["umount", "-l", str(results)], check=False)


def test_disk_full_in_process(tmp_path, clip, monkeypatch):
    """Where tmpfs cannot be mounted: the encoder's write raises ENOSPC; the job fails with the same error."""
    from app.jobs.models import Job
    from app.jobs.runner import run_claimed_job
    from app.jobs.store import JobStore
    from app.pipeline import atomic
    from app.storage import Storage

    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    store.upgrade_schema()
    storage = Storage(tmp_path / "data")
    storage.ensure()
    options = {"model": "bicubic", "container": "mp4"}
    for job_id in ("full", "next"):
        store.add(Job(id=job_id, model="bicubic", options=options, input_path=str(clip), status="queued"))
    real_replace = os.replace

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", no_space)
    assert run_claimed_job(store, storage, *store.claim_next("me:1", "full"), 0.1) == "failed"
    error = store.get("full").error
    assert error["type"] == "output-error" and "no space left" in error["detail"]
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert run_claimed_job(store, storage, *store.claim_next("me:1", "next"), 0.1) == "succeeded"


# -- the shared rate-limit storage ---------------------------------------------------------------
def test_sql_rate_limit_storage_is_exact_across_processes_and_threads(tmp_path):
    """Two engines on one SQLite file stand for two gunicorn processes; 8 threads hit one key at once."""
    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    from app.http.sqllimits import SqlStorage
    from app.jobs.store import JobStore, make_engine

    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    JobStore(url).upgrade_schema()  # as the server does before any process serves
    limiters = [MovingWindowRateLimiter(SqlStorage(engine=make_engine(url))) for _ in range(2)]
    rate = parse("25/minute")
    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(lambda i: limiters[i % 2].hit(rate, "tenant-x"), range(60)))
    assert sum(granted) == 25
    assert limiters[0].hit(rate, "tenant-y")  # another key has its own window
    reset, remaining = limiters[1].get_window_stats(rate, "tenant-x")
    assert remaining == 0 and 0 < reset - time.time() <= 60
