"""Download weights files from their official URLs, resume, and check them against the manifest.

The whole transfer uses the standard library's ``urllib``: every manifest URL is a plain HTTPS GET of a
public release asset (GitHub redirects to its CDN, which urllib follows, keeping our ``Range`` header),
so ``requests``/``httpx`` would add a dependency without adding anything we use.

    download(entry)            -> DownloadResult      one manifest entry, resumable, sha256-checked
    verify(dirs)               -> list[VerifyResult]  ok / missing / mismatch / unverified per entry
    resolve_names(names)       -> list[WeightsFile]   model names or manifest paths -> files to fetch

Errors: ``DownloadError`` (network, one line, the ``.part`` file is kept so a rerun resumes),
``WeightsCorrupt`` (checksum or size mismatch, the ``.part`` file is deleted), ``UnknownModel``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from . import weights
from .errors import EnhanceError, UnknownModel, WeightsCorrupt
from .weights import WeightsFile

try:  # POSIX only: keeps two concurrent downloads of one file from interleaving their bytes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_TIMEOUT = 60.0
USER_AGENT = "video-enhance-weights/0.1 (+https://github.com/xinntao/Real-ESRGAN)"

#: progress(bytes_done, bytes_total or None)
Progress = Callable[[int, "int | None"], None]

# verify() statuses
OK, MISSING, MISMATCH, UNVERIFIED = "ok", "missing", "mismatch", "unverified"


class DownloadError(EnhanceError):
    """A weights file could not be fetched (network, HTTP error, cannot write)."""

    title = "Download failed"
    slug = "download-failed"
    http_status = 502


@dataclass(frozen=True)
class DownloadResult:
    """What ``download`` did for one file."""

    entry: WeightsFile
    path: Path  # where the file now lies
    status: str  # "downloaded" or "present" (already there and valid)
    sha256: str  # the file's actual sha256
    verified: bool  # False when the manifest records no checksum to compare with
    resumed_from: int = 0  # bytes kept from an earlier .part file


@dataclass(frozen=True)
class VerifyResult:
    """The state of one manifest file on disk."""

    path: str  # the manifest's relative path
    status: str  # ok / missing / mismatch / unverified
    location: Path | None = None
    expected: str | None = None
    actual: str | None = None
    detail: str = ""


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def default_dest() -> Path:
    """The first writable folder on the weights search path; the repo's weights/ when none is."""
    for folder in weights.search_dirs():
        if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return weights.REPO_WEIGHTS_DIR


def part_path(target: Path) -> Path:
    """The temporary name a download is written to before it is checked and renamed."""
    return target.with_name(target.name + ".part")


def check_file(entry: WeightsFile, path: Path) -> VerifyResult:
    """Compare one file on disk with its manifest entry (size first: it is free)."""
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        detail = f"size {size} bytes, expected {entry.size}"
        return VerifyResult(entry.path, MISMATCH, path, str(entry.size), str(size), detail)
    actual = sha256_file(path)
    if entry.sha256 is None:
        return VerifyResult(entry.path, UNVERIFIED, path, None, actual, "no official checksum recorded")
    if actual != entry.sha256:
        return VerifyResult(entry.path, MISMATCH, path, entry.sha256, actual, "sha256 differs")
    return VerifyResult(entry.path, OK, path, entry.sha256, actual)


def verify(
    dirs: Iterable[Path] | None = None, manifest: dict[str, WeightsFile] | None = None
) -> list[VerifyResult]:
    """Check every manifest file found in ``dirs`` (default: the search path), in lookup order."""
    folders = [Path(d) for d in (weights.search_dirs() if dirs is None else dirs)]
    results = []
    for entry in (weights.MANIFEST if manifest is None else manifest).values():
        found = next((f / entry.path for f in folders if (f / entry.path).is_file()), None)
        if found is None:
            results.append(VerifyResult(entry.path, MISSING, expected=entry.sha256))
        else:
            results.append(check_file(entry, found))
    return results


def resolve_names(names: Iterable[str], all_files: bool = False) -> list[WeightsFile]:
    """Model names or manifest paths -> the manifest entries to fetch (deduplicated, in order)."""
    manifest = weights.MANIFEST
    if all_files:
        return list(manifest.values())
    wanted: list[WeightsFile] = []
    for name in names:
        for path in _paths_for(name, manifest):
            entry = manifest[path]
            if entry not in wanted:
                wanted.append(entry)
    return wanted


def _paths_for(name: str, manifest: dict[str, WeightsFile]) -> tuple[str, ...]:
    """The manifest paths one CLI word stands for: a manifest path, or a registered model's weights."""
    if name in manifest:
        return (name,)
    from .registry import all_specs  # imported here: the registry imports torch and every family

    specs = {spec.name: spec for spec in all_specs()}
    if name not in specs:
        models = ", ".join(n for n, s in specs.items() if s.weights)
        raise UnknownModel(
            f"unknown model or weights file {name!r}; allowed models: {models}; "
            f"or a manifest path: {', '.join(manifest)}"
        )
    missing = [p for p in specs[name].weights if p not in manifest]
    if missing:
        raise UnknownModel(f"{name} needs {', '.join(missing)}, which has no official download URL")
    return specs[name].weights


def download(
    entry: WeightsFile,
    dest: Path | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> DownloadResult:
    """Fetch ``entry`` into ``dest`` (default: the first writable weights folder), resuming a .part file.

    A valid copy already on the search path (or in ``dest`` when given) is kept unless ``force``.
    ``verified`` is False when the manifest records no sha256: the caller must warn the user.
    """
    existing = _valid_copy(entry, dest) if not force else None
    if existing is not None:
        return existing
    target = _target_folder(entry, dest) / entry.path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    part = part_path(target)
    with _locked(part):
        if entry.archive is not None:
            resumed = _extract_member(entry, part, dest, progress, timeout)
        else:
            resumed = _transfer(entry, part, progress, timeout)
        check = _check_part(entry, part)
        os.replace(part, target)  # atomic: a reader sees no file or the whole checked one, never half
    return DownloadResult(entry, target, "downloaded", check.actual or "", check.status == OK, resumed)


def _extract_member(entry: WeightsFile, part: Path, dest: Path | None, progress, timeout: float) -> int:
    """Fetch ``entry``'s archive (checked like any download, kept for its other members), then copy the
    member into ``part``; returns the archive bytes a resumed download kept."""
    archive = download(entry.archive, dest, progress, timeout=timeout)
    try:
        with zipfile.ZipFile(archive.path) as bundle, bundle.open(entry.member) as src:
            with open(part, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    except KeyError:
        raise DownloadError(f"{entry.archive.path} from {entry.url} has no member {entry.member}") from None
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive.path} is not a readable zip archive ({exc})") from None
    return archive.resumed_from


def _target_folder(entry: WeightsFile, dest: Path | None) -> Path:
    """Where to put ``entry``: ``dest``; else over a corrupt copy that lookup would still find first."""
    if dest is not None:
        return Path(dest)
    shadow = weights.locate(entry.path)
    if shadow is not None:
        root = shadow.parents[len(Path(entry.path).parts) - 1]
        if os.access(root, os.W_OK | os.X_OK):
            return root
    return default_dest()


def _valid_copy(entry: WeightsFile, dest: Path | None) -> DownloadResult | None:
    """An existing good copy of ``entry`` (in ``dest``, or anywhere on the search path), or None."""
    if dest is not None:
        candidate = Path(dest) / entry.path
        found = candidate if candidate.is_file() else None
    else:
        found = weights.locate(entry.path)
    if found is None:
        return None
    check = check_file(entry, found)
    if check.status == MISMATCH:
        log.warning("%s at %s is corrupt (%s); downloading it again", entry.path, found, check.detail)
        return None
    return DownloadResult(entry, found, "present", check.actual or "", check.status == OK)


def _check_part(entry: WeightsFile, part: Path) -> VerifyResult:
    """Check a finished .part file; on a mismatch delete it and raise WeightsCorrupt."""
    check = check_file(entry, part)
    if check.status == MISMATCH:
        part.unlink(missing_ok=True)
        what = "size" if check.detail.startswith("size") else "sha256"
        raise WeightsCorrupt(
            f"{entry.path} downloaded from {entry.url} failed its {what} check: expected {check.expected}, "
            f"got {check.actual}; the partial file was deleted, run the download again"
        )
    return check


def _transfer(entry: WeightsFile, part: Path, progress: Progress | None, timeout: float) -> int:
    """Stream ``entry.url`` into ``part``, resuming from its current size; returns the bytes kept."""
    offset = part.stat().st_size if part.is_file() else 0
    if entry.size is not None and offset >= entry.size:
        return offset  # complete (or too long): nothing to ask the server; the check decides
    try:
        response = _open(entry.url, offset, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # our Range starts past what the server has: start over
            os.truncate(part, 0)
            return _transfer(entry, part, progress, timeout)
        raise DownloadError(_http_message(entry, exc)) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, refused, DNS, TLS, timeout
        raise DownloadError(_network_message(entry, exc, 0)) from None
    with response:
        start = _resume_offset(entry, response, offset)
        _stream(entry, response, part, start, _total_size(response, start, entry), progress)
    return start


def _open(url: str, offset: int, timeout: float):
    """Send the GET, with ``Range: bytes=offset-`` when resuming."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _resume_offset(entry: WeightsFile, response, offset: int) -> int:
    """Where the body starts: ``offset`` on a matching 206, 0 when the server sent the whole file."""
    if response.status != 206:
        return 0  # the server ignored Range (200): the body is the whole file, so the .part restarts
    content_range = response.headers.get("Content-Range", "")
    start = content_range.removeprefix("bytes ").split("-", 1)[0].strip()
    if start != str(offset):
        raise DownloadError(
            f"cannot resume {entry.path}: asked for bytes from {offset}, the server sent {content_range!r}; "
            "delete the .part file and retry"
        )
    return offset


def _total_size(response, start: int, entry: WeightsFile) -> int | None:
    """The full file size, from Content-Range / Content-Length, else the manifest."""
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = response.headers.get("Content-Length", "")
    if length.isdigit():
        return start + int(length)
    return entry.size


def _stream(entry: WeightsFile, response, part: Path, start: int, total: int | None, progress) -> None:
    """Write the body into ``part`` from byte ``start`` (dropping anything after it), reporting progress."""
    done = start
    try:
        with open(part, "r+b") as out:
            out.truncate(start)
            out.seek(start)
            if progress:
                progress(done, total)
            while block := _read(entry, response, done):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except OSError as exc:  # network errors were mapped in _read: this is the disk
        raise DownloadError(f"cannot write {part}: {exc.strerror or exc}") from None
    if total is not None and done < total:
        # http.client's read(n) returns b"" on an early EOF instead of raising: without this check a cut
        # connection would look like a corrupt file, and the resumable .part would be thrown away
        raise DownloadError(_network_message(entry, http.client.IncompleteRead(b"", total - done), done))


def _read(entry: WeightsFile, response, done: int) -> bytes:
    """One chunk of the body; a network failure becomes a DownloadError that says the rerun resumes."""
    try:
        return response.read(CHUNK)
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(_network_message(entry, exc, done)) from None


def _http_message(entry: WeightsFile, exc: urllib.error.HTTPError) -> str:
    """One line for an HTTP error status."""
    return f"cannot download {entry.path}: {entry.url} answered HTTP {exc.code} {exc.reason}"


def _reason(exc: BaseException) -> str:
    """A short human reason for a network exception."""
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed before the end of the file"
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, str):
            return exc.reason
        exc = exc.reason  # the socket error underneath: refused, DNS, TLS, timeout
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__


def _network_message(entry: WeightsFile, exc: BaseException, done: int) -> str:
    """One line for a network failure, saying whether a rerun resumes."""
    host = urllib.request.urlparse(entry.url).netloc
    resume = f"; {done} bytes kept, run the command again to resume" if done else ""
    return f"cannot download {entry.path} from {host}: {_reason(exc)}{resume}".replace("\n", " ")


class _locked:
    """Hold an exclusive lock on the .part file so a second download of the same file fails fast."""

    def __init__(self, part: Path):
        self.part = part
        self.fh = None

    def __enter__(self):
        self.fh = open(self.part, "ab")  # creates an empty .part; the transfer reopens it to write
        if fcntl is not None:
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.fh.close()
                raise DownloadError(f"{self.part.stem} is being downloaded by another process") from None
        return self

    def __exit__(self, *exc_info):
        if self.part.is_file() and self.part.stat().st_size == 0:
            self.part.unlink(missing_ok=True)  # nothing was fetched: leave no empty .part behind
        self.fh.close()
        return False
