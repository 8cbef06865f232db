"""Weights lookup, download (local HTTP server: resume, ignored Range, corruption, errors), verify."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from conftest import SHARED_WEIGHTS, needs_shared

from app import create_app
from app.commands.weights import weights_group
from app.config import Settings
from models import download as dl
from models import weights
from models.errors import UnknownModel, WeightsCorrupt, WeightsMissing
from models.weights import WeightsFile

PAYLOAD = bytes(range(256)) * 1200  # 300 KiB: small enough to stay instant
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


# -- lookup -------------------------------------------------------------------------------------


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Two search-path folders (ENHANCE_WEIGHTS_PATH, handed down) and a stand-in for the repo's weights/."""
    a, b, repo = tmp_path / "a", tmp_path / "b", tmp_path / "repo"
    for d in (a, b, repo):
        d.mkdir()
    weights.set_search_path([a, b])
    monkeypatch.setattr(weights, "REPO_WEIGHTS_DIR", repo)
    return a, b, repo


def test_search_order_is_env_entries_then_repo_weights(folders):
    a, b, repo = folders
    assert weights.search_dirs() == [a, b, repo]
    (repo / "x.pth").write_bytes(b"repo")
    assert weights.locate("x.pth") == repo / "x.pth"
    (b / "x.pth").write_bytes(b"b")
    assert weights.locate("x.pth") == b / "x.pth"
    (a / "x.pth").write_bytes(b"a")
    assert weights.locate("x.pth") == a / "x.pth"
    assert weights.require("x.pth") == a / "x.pth"


def test_empty_env_entries_are_skipped(tmp_path):
    settings = Settings.from_env({"ENHANCE_WEIGHTS_PATH": f":{tmp_path}:"})
    assert settings.weights_path == (tmp_path,)
    weights.set_search_path(settings.weights_path)
    assert weights.search_dirs() == [tmp_path, weights.REPO_WEIGHTS_DIR]


def test_without_a_search_path_only_the_repo_folder_is_searched(monkeypatch):
    """Library use without an app (nothing configured, whatever the environment says): weights/ only."""
    monkeypatch.setenv("ENHANCE_WEIGHTS_PATH", "/somewhere/else")
    weights.set_search_path([])
    assert weights.search_dirs() == [weights.REPO_WEIGHTS_DIR]


def test_the_weights_path_reaches_the_lookup_through_settings_and_the_app(folders, tmp_path):
    """ENHANCE_WEIGHTS_PATH is parsed by Settings; create_app hands it to models.weights."""
    a, b, repo = folders
    (b / "x.pth").write_bytes(b"b")
    weights.set_search_path([])
    create_app({"ENHANCE": {"weights_path": [str(b)], "data_dir": tmp_path / "data"}})
    assert weights.search_dirs() == [b, repo]
    assert weights.locate("x.pth") == b / "x.pth"


def test_weights_missing_names_file_folders_and_command(folders):
    a, b, repo = folders
    with pytest.raises(WeightsMissing) as info:
        weights.require("sub/missing.pth", model="realesrgan-x4plus")
    message = info.value.detail
    assert "sub/missing.pth" in message
    assert all(str(d) in message for d in (a, b, repo))
    assert "flask weights download realesrgan-x4plus" in message
    over_http = info.value.worded("http")  # a client of the service is told neither folders nor commands
    assert "sub/missing.pth" in over_http and "operator" in over_http
    assert not any(str(d) in over_http for d in (a, b, repo)) and "flask" not in over_http


def test_default_dest_is_first_writable_folder(folders, tmp_path):
    a, b, repo = folders
    weights.set_search_path([tmp_path / "does-not-exist", b])
    assert dl.default_dest() == b
    weights.set_search_path([tmp_path / "does-not-exist"])
    assert dl.default_dest() == repo


# -- a local HTTP server that can honour or ignore Range, fail, or cut the connection --------------


@dataclass
class FakeServer:
    """What the handler serves, and the Range headers it was asked for."""

    payload: bytes = PAYLOAD
    honour_range: bool = True
    status: int = 200
    cut_at: int | None = None  # close the connection after this many bytes of the file
    ranges: list = field(default_factory=list)
    url: str = ""


def _handler(cfg: FakeServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            asked = self.headers.get("Range")
            cfg.ranges.append(asked)
            if cfg.status != 200:
                self.send_error(cfg.status)
                return
            start = int(asked.removeprefix("bytes=").split("-")[0]) if asked and cfg.honour_range else 0
            size = len(cfg.payload)
            if start >= size and asked:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206 if asked and cfg.honour_range else 200)
            if asked and cfg.honour_range:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.send_header("Content-Length", str(size - start))
            self.end_headers()
            end = size if cfg.cut_at is None else cfg.cut_at
            self.wfile.write(cfg.payload[start:end])

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def server():
    cfg = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cfg))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    cfg.url = f"http://127.0.0.1:{httpd.server_address[1]}/fake.pth"
    yield cfg
    httpd.shutdown()
    httpd.server_close()


def _entry(
    server: FakeServer, sha256: str | None = PAYLOAD_SHA, size: int | None = len(PAYLOAD)
) -> WeightsFile:
    return WeightsFile("fake/model.pth", server.url, sha256, size, "MIT")


class Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


# -- download -----------------------------------------------------------------------------------


def test_download_installs_atomically(server, tmp_path):
    progress = Progress()
    result = dl.download(_entry(server), tmp_path, progress, timeout=5)
    target = tmp_path / "fake/model.pth"
    assert result.path == target and result.status == "downloaded" and result.verified
    assert target.read_bytes() == PAYLOAD
    assert result.sha256 == PAYLOAD_SHA
    assert list(target.parent.iterdir()) == [target]  # no .part (or lock) left behind
    assert server.ranges == [None]
    assert progress.calls[0] == (0, len(PAYLOAD)) and progress.calls[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_present_valid_file_is_not_fetched_again(server, tmp_path):
    dl.download(_entry(server), tmp_path, timeout=5)
    again = dl.download(_entry(server), tmp_path, timeout=5)
    assert again.status == "present" and again.verified
    assert server.ranges == [None]


def test_corrupt_present_file_is_replaced(server, tmp_path):
    target = tmp_path / "fake/model.pth"
    target.parent.mkdir()
    target.write_bytes(b"x" * len(PAYLOAD))
    result = dl.download(_entry(server), tmp_path, timeout=5)
    assert result.status == "downloaded"
    assert target.read_bytes() == PAYLOAD


def test_without_dest_a_corrupt_copy_is_replaced_where_lookup_finds_it(server, folders):
    a, b, repo = folders
    shadow = b / "fake/model.pth"
    shadow.parent.mkdir()
    shadow.write_bytes(b"corrupt")
    result = dl.download(_entry(server), timeout=5)
    assert result.path == shadow and shadow.read_bytes() == PAYLOAD
    assert weights.locate("fake/model.pth") == shadow


def test_without_dest_a_new_file_goes_to_the_first_writable_folder(server, folders):
    a, b, repo = folders
    assert dl.download(_entry(server), timeout=5).path == a / "fake/model.pth"


def test_resume_asks_for_the_missing_range(server, tmp_path):
    part = tmp_path / "fake/model.pth.part"
    part.parent.mkdir()
    part.write_bytes(PAYLOAD[:1000])
    progress = Progress()
    result = dl.download(_entry(server), tmp_path, progress, timeout=5)
    assert server.ranges == ["bytes=1000-"]
    assert result.resumed_from == 1000
    assert (tmp_path / "fake/model.pth").read_bytes() == PAYLOAD
    assert not part.exists()
    assert progress.calls[0] == (1000, len(PAYLOAD))


def test_cut_connection_keeps_part_and_rerun_resumes(server, tmp_path):
    server.cut_at = 100_000
    with pytest.raises(dl.DownloadError) as info:
        dl.download(_entry(server), tmp_path, timeout=5)
    assert "run the command again to resume" in info.value.detail
    part = tmp_path / "fake/model.pth.part"
    assert part.read_bytes() == PAYLOAD[:100_000]
    server.cut_at = None
    result = dl.download(_entry(server), tmp_path, timeout=5)
    assert server.ranges == [None, "bytes=100000-"]
    assert result.resumed_from == 100_000
    assert result.path.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.honour_range = False
    part = tmp_path / "fake/model.pth.part"
    part.parent.mkdir()
    part.write_bytes(b"garbage!" * 100)  # would corrupt the file if the 200 body were appended to it
    result = dl.download(_entry(server), tmp_path, timeout=5)
    assert server.ranges == ["bytes=800-"]
    assert result.resumed_from == 0
    assert result.path.read_bytes() == PAYLOAD


def test_complete_part_is_checked_without_a_request(server, tmp_path):
    part = tmp_path / "fake/model.pth.part"
    part.parent.mkdir()
    part.write_bytes(PAYLOAD)
    result = dl.download(_entry(server), tmp_path, timeout=5)
    assert server.ranges == []
    assert result.path.read_bytes() == PAYLOAD


def test_part_longer_than_server_file_restarts_after_416(server, tmp_path):
    part = tmp_path / "fake/model.pth.part"
    part.parent.mkdir()
    part.write_bytes(PAYLOAD + b"extra")
    result = dl.download(_entry(server, size=None), tmp_path, timeout=5)
    assert server.ranges == [f"bytes={len(PAYLOAD) + 5}-", None]
    assert result.path.read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_part_and_installs_nothing(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(WeightsCorrupt) as info:
        dl.download(_entry(server, sha256=wrong), tmp_path, timeout=5)
    message = info.value.detail
    assert wrong in message and PAYLOAD_SHA in message and "fake/model.pth" in message
    assert not (tmp_path / "fake/model.pth").exists()
    assert not (tmp_path / "fake/model.pth.part").exists()


def test_size_mismatch_is_corrupt(server, tmp_path):
    with pytest.raises(WeightsCorrupt, match="size"):
        dl.download(_entry(server, size=len(PAYLOAD) + 1), tmp_path, timeout=5)
    assert not (tmp_path / "fake/model.pth").exists()


def test_http_404_is_one_clear_line(server, tmp_path):
    server.status = 404
    with pytest.raises(dl.DownloadError) as info:
        dl.download(_entry(server), tmp_path, timeout=5)
    message = info.value.detail
    assert "HTTP 404" in message and server.url in message and "fake/model.pth" in message
    assert "\n" not in message
    assert not (tmp_path / "fake/model.pth").exists()
    assert not (tmp_path / "fake/model.pth.part").exists()


def test_connection_refused_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = WeightsFile("fake/model.pth", f"http://127.0.0.1:{port}/x.pth", PAYLOAD_SHA, None, "MIT")
    with pytest.raises(dl.DownloadError) as info:
        dl.download(entry, tmp_path, timeout=5)
    assert f"127.0.0.1:{port}" in info.value.detail and "refused" in info.value.detail.lower()
    assert "\n" not in info.value.detail


def test_no_recorded_checksum_downloads_unverified(server, tmp_path):
    result = dl.download(_entry(server, sha256=None, size=None), tmp_path, timeout=5)
    assert result.status == "downloaded" and not result.verified
    assert result.sha256 == PAYLOAD_SHA


def test_concurrent_download_of_same_file_is_refused(server, tmp_path):
    target = tmp_path / "fake/model.pth"
    target.parent.mkdir()
    with dl._locked(dl.part_path(target)):
        with pytest.raises(dl.DownloadError, match="another process"):
            dl.download(_entry(server), tmp_path, timeout=5)


# -- names -> files -----------------------------------------------------------------------------


def test_resolve_model_names_and_manifest_paths():
    assert [e.path for e in dl.resolve_names(["realesr-animevideov3"])] == ["realesr-animevideov3.pth"]
    assert [e.path for e in dl.resolve_names(["lut3d"])] == ["lut3d/LUTs.pth", "lut3d/classifier.pth"]
    both = dl.resolve_names(["lut3d/LUTs.pth", "lut3d", "zero-dce/Epoch99.pth"])
    assert [e.path for e in both] == ["lut3d/LUTs.pth", "lut3d/classifier.pth", "zero-dce/Epoch99.pth"]
    assert dl.resolve_names(["bicubic"]) == []
    assert dl.resolve_names([], all_files=True) == list(weights.MANIFEST.values())


def test_unknown_name_lists_allowed():
    with pytest.raises(UnknownModel) as info:
        dl.resolve_names(["no-such-model"])
    assert "realesr-animevideov3" in info.value.detail and "lut3d/LUTs.pth" in info.value.detail


def test_every_model_weight_has_a_manifest_entry():
    from models.registry import all_specs

    for spec in all_specs():
        assert all(p in weights.MANIFEST for p in spec.weights), spec.name


def test_manifest_checksums_are_well_formed():
    for entry in weights.MANIFEST.values():
        assert entry.url.startswith("https://"), entry.path
        assert entry.sha256 is None or (len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0), entry.path


# -- verify -------------------------------------------------------------------------------------


def test_verify_statuses(tmp_path):
    good, bad = b"good weights", b"bad weights!"
    (tmp_path / "good.pth").write_bytes(good)
    (tmp_path / "bad.pth").write_bytes(bad)
    (tmp_path / "short.pth").write_bytes(good)
    (tmp_path / "nosum.pth").write_bytes(good)
    sha = hashlib.sha256(good).hexdigest()
    manifest = {
        e.path: e
        for e in (
            WeightsFile("good.pth", "https://x/good.pth", sha, len(good), "MIT"),
            WeightsFile("bad.pth", "https://x/bad.pth", sha, len(good), "MIT"),
            WeightsFile("short.pth", "https://x/short.pth", sha, len(good) + 1, "MIT"),
            WeightsFile("nosum.pth", "https://x/nosum.pth", None, None, "MIT"),
            WeightsFile("gone.pth", "https://x/gone.pth", sha, len(good), "MIT"),
        )
    }
    results = {r.path: r for r in dl.verify([tmp_path], manifest)}
    assert {p: r.status for p, r in results.items()} == {
        "good.pth": dl.OK,
        "bad.pth": dl.MISMATCH,
        "short.pth": dl.MISMATCH,
        "nosum.pth": dl.UNVERIFIED,
        "gone.pth": dl.MISSING,
    }
    assert results["bad.pth"].expected == sha
    assert results["bad.pth"].actual == hashlib.sha256(bad).hexdigest()
    assert results["good.pth"].location == tmp_path / "good.pth"
    assert results["nosum.pth"].actual == sha


def test_verify_checks_the_copy_that_lookup_would_use(tmp_path):
    first, second = tmp_path / "1", tmp_path / "2"
    for d, data in ((first, b"corrupt"), (second, b"good")):
        d.mkdir()
        (d / "w.pth").write_bytes(data)
    manifest = {
        "w.pth": WeightsFile("w.pth", "https://x/w.pth", hashlib.sha256(b"good").hexdigest(), 4, "MIT")
    }
    assert dl.verify([first, second], manifest)[0].status == dl.MISMATCH
    assert dl.verify([second, first], manifest)[0].status == dl.OK


@needs_shared("weights/lut3d/LUTs.pth", "weights/realesr-animevideov3.pth", "weights/zero-dce/Epoch99.pth")
def test_verify_shared_weights_match_manifest():
    results = {r.path: r.status for r in dl.verify([SHARED_WEIGHTS])}
    for path in (
        "realesr-animevideov3.pth",
        "lut3d/LUTs.pth",
        "lut3d/classifier.pth",
        "zero-dce/Epoch99.pth",
    ):
        assert results[path] == dl.OK, path
    assert results["RealESRGAN_x4plus.pth"] == dl.MISSING


# -- the CLI group, in-process ------------------------------------------------------------------


def test_cli_download_fetches_manifest_path(server, tmp_path, monkeypatch):
    monkeypatch.setitem(weights.MANIFEST, "fake/model.pth", _entry(server))
    result = CliRunner().invoke(weights_group, ["download", "fake/model.pth", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "downloaded to" in result.stdout
    assert (tmp_path / "fake/model.pth").read_bytes() == PAYLOAD
    again = CliRunner().invoke(weights_group, ["download", "fake/model.pth", "--dest", str(tmp_path)])
    assert again.exit_code == 0 and "already present" in again.stdout


def test_cli_download_warns_when_unverifiable(server, tmp_path, monkeypatch):
    monkeypatch.setitem(weights.MANIFEST, "fake/model.pth", _entry(server, sha256=None, size=None))
    result = CliRunner().invoke(weights_group, ["download", "fake/model.pth", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "could not be checksum-verified" in result.stderr and PAYLOAD_SHA in result.stderr


def test_cli_download_exit_codes(server, tmp_path, monkeypatch):
    runner = CliRunner()
    unknown = runner.invoke(weights_group, ["download", "no-such-model", "--dest", str(tmp_path)])
    assert unknown.exit_code == 2
    assert "no-such-model" in unknown.stderr and "realesr-animevideov3" in unknown.stderr
    assert runner.invoke(weights_group, ["download"]).exit_code == 2
    server.status = 404
    monkeypatch.setitem(weights.MANIFEST, "fake/model.pth", _entry(server))
    failed = runner.invoke(weights_group, ["download", "fake/model.pth", "--dest", str(tmp_path)])
    assert failed.exit_code == 1
    assert "HTTP 404" in failed.stderr


@needs_shared("weights/realesr-animevideov3.pth")
def test_cli_download_of_present_model_is_a_no_op():
    result = CliRunner().invoke(weights_group, ["download", "realesr-animevideov3"])
    assert result.exit_code == 0, result.output
    assert "already present" in result.stdout


def test_cli_verify_exits_1_on_a_corrupt_file(tmp_path):
    corrupt = tmp_path / "lut3d" / "LUTs.pth"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"not the LUTs")
    weights.set_search_path([tmp_path, SHARED_WEIGHTS])
    result = CliRunner().invoke(weights_group, ["verify"])
    assert result.exit_code == 1
    assert "MISMATCH" in result.stdout and str(corrupt) in result.stderr


# -- files published only inside an archive (the TemporalFix weights live in a wheel) -----------------------
def _zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _member_entries(server: FakeServer, names: tuple[str, ...]) -> list[WeightsFile]:
    """Manifest entries for members ``pkg/models/<name>.pth`` (content ``name * 999``) of the served zip."""
    archive = WeightsFile(
        "fake/bundle.whl", server.url, hashlib.sha256(server.payload).hexdigest(), len(server.payload), "MIT"
    )
    entries = []
    for name in names:
        content = name.encode() * 999
        sha = hashlib.sha256(content).hexdigest()
        member = f"pkg/models/{name}.pth"
        entries.append(WeightsFile(f"fake/{name}.pth", server.url, sha, len(content), "MIT", archive, member))
    return entries


def test_a_member_of_an_archive_is_taken_out_checked_and_the_archive_fetched_once(server, tmp_path):
    server.payload = _zip_with({f"pkg/models/{n}.pth": n.encode() * 999 for n in ("s0", "s2")})
    s0, s2 = _member_entries(server, ("s0", "s2"))
    first = dl.download(s0, tmp_path, timeout=5)
    second = dl.download(s2, tmp_path, timeout=5)
    assert first.status == second.status == "downloaded" and first.verified and second.verified
    assert (tmp_path / "fake/s0.pth").read_bytes() == b"s0" * 999
    assert (tmp_path / "fake/s2.pth").read_bytes() == b"s2" * 999
    assert server.ranges == [None]  # the archive came once and serves every member
    assert not list(tmp_path.rglob("*.part"))


def test_a_member_that_fails_its_check_or_is_missing_leaves_nothing(server, tmp_path):
    server.payload = _zip_with({"pkg/models/s0.pth": b"tampered"})
    (s0,) = _member_entries(server, ("s0",))
    with pytest.raises(WeightsCorrupt):
        dl.download(s0, tmp_path, timeout=5)
    (gone,) = _member_entries(server, ("s9",))
    with pytest.raises(dl.DownloadError, match="has no member pkg/models/s9.pth"):
        dl.download(gone, tmp_path, timeout=5)
    assert not (tmp_path / "fake/s0.pth").exists() and not list(tmp_path.rglob("*.part"))


def test_the_temporalfix_files_come_out_of_the_official_wheel():
    for path in (f"temporalfix/temporalfix_{v}.pth" for v in ("s0_v1", "s1_v1.1", "s2_v1", "s3_v1")):
        entry = weights.MANIFEST[path]
        assert entry.archive is weights.TEMPORALFIX_WHEEL and entry.member.startswith(
            "vs_temporalfix/models/"
        )
        assert entry.archive.sha256 and entry.archive.size
