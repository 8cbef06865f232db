"""Hostile inputs against a real gunicorn: thousands of mutated MP4/MKV/WebM/PNG uploads with random form
fields. Never a 5xx, never a stuck job, the server's processes survive every case.

The corpus is deterministic (seeded): a failure names its case number, and ``FUZZ_SEED`` / ``FUZZ_CASES``
replay or widen it. Mutations are structure-aware where it pays: the size and payload fields of MP4 boxes
and of Matroska elements, plus the classic bit flips, truncations, splices and random bytes.
"""

from __future__ import annotations

import os
import random
import re
import struct
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
import requests

from tests.media import make_video
from tests.server import Server, wait_until

CASES = int(os.environ.get("FUZZ_CASES", "4000"))
SEED = int(os.environ.get("FUZZ_SEED", "20240611"))
CLIENTS = 4  # concurrent requests: both gunicorn processes stay busy on two cores
FINAL = {"succeeded", "failed", "canceled"}

MP4_BOXES = [
    b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"edts", b"elst", b"mdia", b"mdhd", b"hdlr", b"minf",
    b"vmhd", b"stbl", b"stsd", b"avc1", b"avcC", b"stts", b"stss", b"stsc", b"stsz", b"stco", b"mdat",
    b"mp4a", b"esds", b"ctts", b"sgpd", b"sbgp",
]  # fmt: skip
EBML_IDS = [
    b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67", b"\x16\x54\xae\x6b", b"\xae", b"\xb0", b"\xba", b"\x86",
    b"\x63\xa2", b"\x1f\x43\xb6\x75", b"\xa3", b"\xe7", b"\x44\x89", b"\x2a\xd7\xb1", b"\x53\xab",
]  # fmt: skip
INTERESTING_32 = [0, 1, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
INTERESTING_8 = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x40, 0x20]


# -- seeds ---------------------------------------------------------------------------------------
def _png(path, rng: np.random.Generator):
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 12, "rgb24"
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), format="rgb24")
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def make_seeds(folder) -> list[tuple[str, bytes]]:
    """Small valid files of each container the service reads: the starting points of every mutation."""
    rng = np.random.default_rng(0)
    paths = [
        ("mp4", make_video(folder / "a.mp4", width=32, height=24, frames=3, audio=None)),
        ("mp4", make_video(folder / "b.mp4", width=24, height=16, frames=2, audio="aac")),
        ("mkv", make_video(folder / "c.mkv", width=32, height=24, frames=2, audio=None)),
        ("mkv", make_video(folder / "d.mkv", width=16, height=16, frames=2, codec="ffv1", audio=None)),
        (
            "webm",
            make_video(folder / "e.webm", width=32, height=24, frames=2, codec="libvpx-vp9", audio=None),
        ),
        ("png", _png(folder / "f.png", rng)),
    ]
    return [(kind, path.read_bytes()) for kind, path in paths]


# -- mutations -----------------------------------------------------------------------------------
def _positions(data: bytes, markers) -> list[int]:
    return [m.start() for marker in markers for m in re.finditer(re.escape(marker), data)]


def _mp4_field(data: bytearray, r: random.Random) -> None:
    """Rewrite a box's size, or a 32-bit field just inside it (version, counts, timescale, width...)."""
    spots = _positions(bytes(data), MP4_BOXES)
    if not spots:
        return
    at = r.choice(spots) + r.choice([-4, 4, 8, 12, 16, 20, 24, 28, 32, 76, 80])
    if 0 <= at <= len(data) - 4:
        value = r.choice(INTERESTING_32 + [len(data), len(data) - at, r.getrandbits(32)])
        data[at : at + 4] = struct.pack(">I", value)


def _ebml_field(data: bytearray, r: random.Random) -> None:
    """Rewrite the size (an EBML varint) or the first payload bytes of a Matroska element."""
    spots = [(p, len(m)) for m in EBML_IDS for p in _positions(bytes(data), [m])]
    if not spots:
        return
    start, length = r.choice(spots)
    at = start + length
    if at >= len(data) - 8:
        return
    choice = r.randrange(4)
    if choice == 0:  # "unknown size"
        data[at : at + 8] = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    elif choice == 1:  # a huge one-byte-length size
        data[at] = 0xFF
    elif choice == 2:  # an invalid varint (no length marker)
        data[at] = 0x00
    else:  # the payload: widths, heights, codec ids, block headers
        data[at + 1 : at + 3] = bytes([r.choice(INTERESTING_8), r.choice(INTERESTING_8)])


def _flip(data: bytearray, r: random.Random) -> None:
    for _ in range(r.randint(1, 8)):
        i = r.randrange(len(data))
        data[i] ^= 1 << r.randrange(8)


def _bytes(data: bytearray, r: random.Random) -> None:
    for _ in range(r.randint(1, 16)):
        data[r.randrange(len(data))] = r.choice(INTERESTING_8 + [r.randrange(256)])


def _truncate(data: bytearray, r: random.Random) -> None:
    del data[r.randrange(len(data)) :]


def _duplicate(data: bytearray, r: random.Random) -> None:
    i = r.randrange(len(data))
    chunk = data[i : i + r.randint(1, 512)]
    j = r.randrange(len(data))
    data[j:j] = chunk * r.randint(1, 4)


def _delete(data: bytearray, r: random.Random) -> None:
    i = r.randrange(len(data))
    del data[i : i + r.randint(1, 256)]


def _insert(data: bytearray, r: random.Random) -> None:
    i = r.randrange(len(data))
    data[i:i] = r.randbytes(r.randint(1, 256))


MUTATORS = [_mp4_field, _ebml_field, _flip, _bytes, _truncate, _duplicate, _delete, _insert]
MUTATOR_WEIGHTS = [5, 5, 4, 4, 2, 2, 2, 2]


def mutate(seeds, r: random.Random) -> tuple[str, bytes]:
    """A hostile file: mostly 1-3 mutations of a seed, sometimes a splice of two or plain random bytes."""
    roll = r.random()
    kind, seed = r.choice(seeds)
    if roll < 0.04:
        magic = r.choice([b"", b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x18ftypisom", b"\x89PNG\r\n\x1a\n"])
        return "random", magic + r.randbytes(r.randint(0, 4096))
    if roll < 0.09:
        _, other = r.choice(seeds)
        return "splice", seed[: r.randrange(1, len(seed))] + other[r.randrange(len(other)) :]
    data = bytearray(seed)
    for mutator in r.choices(MUTATORS, MUTATOR_WEIGHTS, k=r.randint(1, 3)):
        if data:
            mutator(data, r)
    return kind, bytes(data)


# -- form fields ---------------------------------------------------------------------------------
FIELD_VALUES = {
    "model": ["bicubic"] * 24 + ["lanczos"] * 6 + ["lut3d"] * 5 + ["lut3d+bicubic", "", "zero-dce", "nope",
              "../../weights/x.pth", "bicubic+" * 80, "BICUBIC", "lut3d+", "\u202ebicubic"],
    "outscale": ["0.5", "1", "2", "3.5", "16", "0.0625"] * 2 + ["0", "-1", "1e309", "nan", "inf", "x", "17"],
    "tile": ["0", "32", "64"] * 2 + ["31", "-1", "99999", "x", "1.5"],
    "codec": ["h264"] * 6 + ["h265", "vp9", "ffv1", "mpeg2", "", "H264"],
    "crf": ["0", "23", "51"] * 2 + ["63", "64", "-1", "x"],
    "frames": ["1", "2", "3"] * 3 + ["0", "-5", "99999999999", "x", "1e3"],
    "denoise_strength": ["0.5", "2", "-1", "x"],
    "webhook_url": ["http://127.0.0.1:1/hook", "ftp://example.com/", "javascript:alert(1)", "http://[::1",
                    "http://a b/", "http://169.254.169.254/", "//example.com", "http://" + "a" * 3000],
    "colour": ["red"],
}  # fmt: skip
# Most cases carry valid, cheap fields, so the file itself is what gets probed (and often run).
FIELD_ODDS = {"model": 0.9, "outscale": 0.1, "tile": 0.06, "codec": 0.15, "crf": 0.1, "frames": 0.3,
              "denoise_strength": 0.02, "webhook_url": 0.03, "colour": 0.01}  # fmt: skip
NAMES = ["clip.mp4", "a.mkv", "../../etc/passwd", "..", "", "видео 🎬.mp4", "x" * 1000 + ".mp4",
         "con.mp4", ".htaccess", "a\r\nX-Injected: 1.mp4", "%00.mp4", "name\x00.mp4"]  # fmt: skip


def form(r: random.Random) -> dict:
    """Random form fields: mostly valid and cheap, sometimes out of range, unknown or hostile."""
    fields = {
        name: r.choice(values) for name, values in FIELD_VALUES.items() if r.random() < FIELD_ODDS[name]
    }
    if r.random() < 0.02:
        fields[r.choice(["model", "frames"])] = r.randbytes(r.randint(1, 40)).decode("latin-1")
    return fields


def case(seeds, index: int) -> tuple[str, dict, dict | None]:
    """The case number ``index``: its kind, form fields and file part (None: no file at all)."""
    r = random.Random(f"{SEED}:{index}")
    kind, data = mutate(seeds, r)
    fields = form(r)
    if r.random() < 0.01:
        return "no-file", fields, None
    name = r.choice(NAMES)
    ctype = r.choice(["video/mp4", "application/octet-stream", "text/html", "image/png"])
    return kind, fields, {"file": (name, data, ctype)}


# -- the test ------------------------------------------------------------------------------------
def _worker_pids(server: Server) -> set[int]:
    master = server.proc.pid
    pids: set[int] = set()
    for task in os.listdir(f"/proc/{master}/task"):
        with open(f"/proc/{master}/task/{task}/children") as f:
            pids |= {int(p) for p in f.read().split()}
    return pids


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("fuzz"),
        workers=2,
        env={
            "ENHANCE_WORKERS": "2",
            "ENHANCE_DEFAULT_MODEL": "bicubic",
            "ENHANCE_MAX_QUEUED": "100000",  # the queue must never answer 503 during the run
            "ENHANCE_MAX_UPLOAD_MB": "1",
            "ENHANCE_MAX_INPUT_PIXELS": str(256 * 256),
            "ENHANCE_MAX_OUTPUT_PIXELS": str(1024 * 1024),
            "ENHANCE_MAX_FRAMES": "60",
            "ENHANCE_MAX_DURATION_SECONDS": "60",
            "ENHANCE_WEBHOOK_SECRET": "fuzz-secret",
        },
    ).start()
    yield srv
    srv.stop()


def test_hostile_uploads_never_cause_a_5xx_or_a_stuck_job(server, tmp_path):
    seeds = make_seeds(tmp_path)
    pids = _worker_pids(server)
    statuses: Counter = Counter()
    kinds: Counter = Counter()
    accepted: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()

    def run(index: int) -> None:
        kind, fields, files = case(seeds, index)
        try:
            r = requests.post(server.url + "/enhance", data=fields, files=files or {}, timeout=60)
        except requests.RequestException as exc:  # the server dropped the connection: a crash
            with lock:
                failures.append(f"case {index} ({kind}, {fields}): {type(exc).__name__}: {exc}")
            return
        with lock:
            statuses[r.status_code] += 1
            kinds[kind] += 1
            if r.status_code >= 500 or r.status_code not in (202, 400, 403, 413, 415, 422):
                failures.append(f"case {index} ({kind}, {fields}): {r.status_code} {r.text[:300]}")
            elif r.status_code == 202:
                accepted.append(r.json()["id"])
            elif not r.headers.get("Content-Type", "").startswith("application/problem+json"):
                failures.append(f"case {index}: {r.status_code} without problem+json")

    with ThreadPoolExecutor(CLIENTS) as pool:
        for batch in range(0, CASES, 200):
            list(pool.map(run, range(batch, min(CASES, batch + 200))))
            assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
            assert not failures, "\n".join(failures[:20])
    submitted = time.monotonic() - started

    def all_final():
        docs = [server.job(job_id) for job_id in accepted]
        return docs if all(d["status"] in FINAL for d in docs) else None

    docs = wait_until(all_final, 240, 1.0, "every accepted job to reach a final state")
    outcomes = Counter(d["status"] for d in docs)
    errors = Counter(d["error"]["type"] for d in docs if d["error"])
    print(
        f"\nfuzz: {CASES} cases (seed {SEED}) in {submitted:.0f} s, "
        f"then {time.monotonic() - started - submitted:.0f} s until every job ended; "
        f"answers {dict(sorted(statuses.items()))}; inputs {dict(kinds)}; "
        f"accepted jobs {dict(outcomes)}; job errors {dict(errors)}"
    )
    assert sum(statuses.values()) == CASES and not failures
    assert statuses[202] > 0 and outcomes["succeeded"] > 0  # mutated-but-valid files do get through
    assert _worker_pids(server) == pids, "a gunicorn worker died and was replaced"
    log = server.log.read_text()
    # (a job that crashes is logged with its traceback and failed cleanly: counted above, not a server fault)
    for bad in ("unhandled error", "WORKER TIMEOUT", "was sent SIG", "exited with code"):
        assert bad not in log, log[log.index(bad) - 2000 : log.index(bad) + 2000]
