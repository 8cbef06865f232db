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


def format_progress(name: str, progress: Progress) -> str:
    """One plain progress line: ``clip.mp4: 48/96 frames (50%), 23.1 fps, ETA 0:00:02``."""
    if progress.frames_total:
        line = f"{name}: {progress.frames_done}/{progress.frames_total} frames ({progress.fraction:.0%})"
    else:
        line = f"{name}: {progress.frames_done} frames"
    line += f", {progress.fps or 0:.1f} fps"
    if progress.eta_seconds is not None:
        minutes, seconds = divmod(round(progress.eta_seconds), 60)
        line += f", ETA {minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
    return line


class ProgressLines:
    """Progress as plain lines where no bar can be drawn (a log file, CI, a pipe): one each time another
    tenth of the frames is done, and at least every ``interval`` seconds (also when the total is unknown)."""

    def __init__(self, name: str, write: Callable[[str], None], interval: float = 10.0, clock=time.monotonic):
        self.name, self.write, self.interval, self._clock = name, write, interval, clock
        self._last_time = clock()
        self._last_tenth = 0

    def __call__(self, progress: Progress) -> None:
        """A ProgressCallback: write a line when a tenth is passed or ``interval`` has gone by."""
        now = self._clock()
        fraction = progress.fraction
        tenth = int(fraction * 10 + 1e-9) if fraction is not None else self._last_tenth
        if tenth > self._last_tenth or now - self._last_time >= self.interval:
            self._last_tenth = max(tenth, self._last_tenth)
            self._last_time = now
            self.write(format_progress(self.name, progress))
