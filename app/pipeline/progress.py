"""Progress of a run: frames done/total, frames per second and the estimated time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Progress:
    """One progress report, as the job document's ``progress`` field."""

    frames_done: int
    frames_total: int | None
    fps: float | None
    eta_seconds: float | None

    @property
    def fraction(self) -> float | None:
        """Done / total in [0, 1], or None when the total is unknown."""
        if not self.frames_total:
            return None
        return min(1.0, self.frames_done / self.frames_total)

    def to_dict(self) -> dict:
        """JSON form, with ``fraction``."""
        return {**asdict(self), "fraction": self.fraction}


ProgressCallback = Callable[[Progress], None]


class ProgressTracker:
    """Turns "N more frames written" into Progress reports with a smoothed fps and ETA."""

    def __init__(self, total: int | None, callback: ProgressCallback | None, clock=time.monotonic):
        self.total = total
        self.callback = callback
        self.done = 0
        self._clock = clock
        self._start = clock()
        self._fps: float | None = None

    def advance(self, frames: int) -> Progress:
        """Record ``frames`` more frames done and report."""
        self.done += frames
        elapsed = self._clock() - self._start
        if elapsed > 0 and self.done:
            self._fps = self.done / elapsed
        eta = None
        if self._fps and self.total:
            eta = max(0.0, (self.total - self.done) / self._fps)
        report = Progress(self.done, self.total, self._fps, eta)
        if self.callback:
            self.callback(report)
        return report

    def finish(self) -> Progress:
        """Final report: the total becomes what was actually done."""
        self.total = self.done
        return self.advance(0)
