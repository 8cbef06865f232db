"""Where a job's files live under ENHANCE_DATA_DIR: ``uploads/<id>/input`` and ``results/<id>/<name>``.

Names from users never reach a path: the upload is stored as ``input``, the result under a name built
from the job id and the output container.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class Storage:
    """The data folder of the service."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.uploads = self.root / "uploads"
        self.results = self.root / "results"

    def ensure(self) -> None:
        """Create the folders."""
        for folder in (self.uploads, self.results):
            folder.mkdir(parents=True, exist_ok=True)

    def upload_path(self, job_id: str) -> Path:
        """Where the uploaded input of a job is stored (its folder is created)."""
        folder = self.uploads / job_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "input"

    def result_path(self, job_id: str, extension: str) -> Path:
        """Where the result of a job is written (its folder is created)."""
        folder = self.results / job_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{job_id}.{extension}"

    def segments_dir(self, job_id: str) -> Path:
        """The folder of a split job's enhanced segments."""
        return self.results / job_id / "segments"

    def segment_path(self, job_id: str, index: int, extension: str) -> Path:
        """Where one enhanced segment of a split job is written (its folder is created)."""
        folder = self.segments_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"segment-{index:05d}.{extension}"

    def remove(self, job_id: str) -> None:
        """Delete every file of a job (upload, result, leftovers of a failed attempt)."""
        for folder in (self.uploads / job_id, self.results / job_id):
            shutil.rmtree(folder, ignore_errors=True)

    def job_bytes(self, job_id: str) -> int:
        """Bytes the job's upload and result folders hold now (0 when gone)."""
        total = 0
        for folder in (self.uploads / job_id, self.results / job_id):
            for path in folder.rglob("*") if folder.is_dir() else ():
                try:
                    if path.is_file():
                        total += path.stat().st_size
                except OSError:  # removed while we looked
                    continue
        return total
