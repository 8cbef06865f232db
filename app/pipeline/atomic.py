"""Write the output under a temporary name and rename it only when complete."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from models.errors import OutputError


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dst`` (same extension: muxers infer the format); rename on success."""
    dst = Path(dst)
    if not dst.parent.is_dir():
        raise OutputError(f"the output folder {dst.parent} does not exist")
    tmp = dst.with_name(f".{dst.stem}.{secrets.token_hex(4)}.part{dst.suffix}")
    try:
        yield tmp
        os.replace(tmp, dst)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OutputError(f"no space left on the device while writing {dst}") from exc
        raise OutputError(f"cannot write {dst}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
