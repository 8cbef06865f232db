"""Interlaced input: detect it (stream flag, else FFmpeg's ``idet``) and deinterlace it with ``bwdif``.

Detection rule (``detect``):
- the stream's field order says ``tt``/``tb`` (top field first) or ``bb``/``bt`` (bottom first): interlaced;
- otherwise (flag missing, or "progressive", which many encoders write for every stream) the first
  ``IDET_FRAMES`` frames go through ``idet``; the video counts as interlaced when its multi-frame verdict
  calls at least ``IDET_MIN_SHARE`` of them interlaced and interlaced frames outnumber progressive ones
  ``IDET_RATIO`` to 1, and its single-frame verdicts agree on one field order for at least
  ``IDET_PARITY_AGREEMENT`` of them (``IDET_MIN_FRAMES`` frames at least); idet runs with a stricter
  ``intl_thres`` than its default (``IDET_INTERLACED_THRESHOLD``, see there why). Still or nearly still
  footage gives idet nothing to see: it stays "undetermined", so such a clip is left alone (a still
  picture's woven fields show no combing anyway).
Telecined film (3:2 pulldown) needs inverse telecine, not deinterlacing: it is out of scope here.

Deinterlacing uses bwdif (motion-adaptive, yadif's successor) through PyAV's filter
graph: ``frame`` keeps the frame rate (each frame rebuilt from its first field), ``field`` gives one frame
per field at twice the rate. bwdif's frames carry timestamps in half the input's time base in both modes
(the duration is unchanged). The lines bwdif interpolated are then filled, where the motion allows, from
the neighbouring fields along DIS optical flow (motion_fill.py): on a camera pan they come back as shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from models.errors import BadOption

from .motion_fill import fill_missing_lines, new_flow
from .options import DEINTERLACE_MODES

#: FFmpeg's AVFieldOrder: 2 tt, 3 bb, 4 tb, 5 bt (the first letter is the field shown first)
_FIELD_ORDERS = {2: "tff", 3: "bff", 4: "tff", 5: "bff"}
IDET_FRAMES = 30
IDET_MIN_SHARE = 0.4
IDET_RATIO = 3.0
IDET_MIN_FRAMES = 6
IDET_PARITY_AGREEMENT = 0.8
#: how much more a frame must look like woven fields than like one picture before idet calls it interlaced.
#: idet's default (1.04) calls sharp-edged progressive pictures interlaced: FFmpeg's own testsrc2 pattern at
#: 160x120 or 320x240 came out "TFF" for every frame. At 1.3 those are progressive, while slow woven camera
#: pans (1-2 px per field, the hardest real case: the least combing) still come out interlaced (they
#: measure between 1.4 and 2).
IDET_INTERLACED_THRESHOLD = 1.3


@dataclass(frozen=True)
class Interlacing:
    """What detection found: the field that comes first, and how it was found."""

    parity: str  # "tff" or "bff"
    source: str  # "flag" (stream's field order) or "idet"


def from_flag(field_order: int | None) -> Interlacing | None:
    """Interlacing from the stream's field order, or None when it says progressive or nothing."""
    parity = _FIELD_ORDERS.get(int(field_order or 0))
    return Interlacing(parity, "flag") if parity else None


def detect(container, stream) -> Interlacing | None:
    """Interlacing of ``stream`` by its flag, else by idet on its first frames (see the module docstring)."""
    flagged = from_flag(stream.codec_context.field_order)
    if flagged:
        return flagged
    graph = _one_filter(stream, "idet", f"intl_thres={IDET_INTERLACED_THRESHOLD}")
    last = None
    seen = 0
    try:
        for frame in container.decode(stream):
            graph.vpush(frame)
            last = _drain(graph)[-1:] or last
            seen += 1
            if seen >= IDET_FRAMES:
                break
        graph.vpush(None)
        last = _drain(graph)[-1:] or last
    except av.error.FFmpegError:
        return None  # a damaged stream: the probe or the run reports it; detection just finds nothing
    if not last:
        return None
    meta = last[0].metadata

    def count(kind: str, key: str) -> float:
        return float(meta.get(f"lavfi.idet.{kind}.{key}", 0))

    tff, bff, prog = (count("multiple", k) for k in ("tff", "bff", "progressive"))
    total = tff + bff + prog + count("multiple", "undetermined")
    interlaced = tff + bff
    # real interlaced footage has one field order: frame-by-frame verdicts that flip between tff and bff
    # come from sharp synthetic patterns or fast motion, not from fields (seen on generated test clips)
    single_tff, single_bff = count("single", "tff"), count("single", "bff")
    consistent = max(single_tff, single_bff) >= IDET_PARITY_AGREEMENT * (single_tff + single_bff)
    if (
        seen >= IDET_MIN_FRAMES
        and interlaced >= IDET_MIN_SHARE * total
        and interlaced >= IDET_RATIO * max(prog, 1)
        and consistent
    ):
        return Interlacing("tff" if tff >= bff else "bff", "idet")
    return None


def decide(option: str, found: Interlacing | None) -> tuple[str, str] | None:
    """(mode, parity) to deinterlace with for ``--deinterlace option``, or None to leave frames alone."""
    if option not in DEINTERLACE_MODES:
        raise BadOption(f"deinterlace must be one of {', '.join(DEINTERLACE_MODES)}, got {option!r}")
    if option == "off" or (option == "auto" and found is None):
        return None
    mode = "frame" if option == "auto" else option
    return mode, found.parity if found else "tff"


class Deinterlacer:
    """bwdif, then the motion-compensated line fill (motion_fill.py), over decoded frames: push frames in,
    get progressive frames out (delayed by one frame, as bwdif's)."""

    def __init__(self, stream, mode: str, parity: str):
        send = "send_field" if mode == "field" else "send_frame"
        self.graph = _one_filter(stream, "bwdif", f"mode={send}:parity={parity}:deint=all")
        self.per_frame = 2 if mode == "field" else 1  # bwdif's frames per input frame, in input order
        self.first_parity = 0 if parity == "tff" else 1  # the row parity of each frame's first field
        self.flow = new_flow()
        self.raw: dict[int, list[np.ndarray] | None] = {}  # the woven frames bwdif may still be working on
        self.pushed = 0
        self.emitted = 0

    def push(self, frame) -> list:
        """Feed one decoded frame; the progressive frames that are ready."""
        self.raw[self.pushed] = _planes(frame, copy=True)
        self.pushed += 1
        self.graph.vpush(frame)
        return self._fill(_drain(self.graph))

    def flush(self) -> list:
        """The frames still held back at the end of the input."""
        self.graph.vpush(None)
        return self._fill(_drain(self.graph))

    def _fill(self, frames: list) -> list:
        """bwdif's frames with their interpolated lines filled from the neighbouring fields where they can."""
        for out in frames:
            index, field = divmod(self.emitted, self.per_frame)
            self.emitted += 1
            planes = _planes(out)
            # the first field's missing lines are the previous frame's second field and this frame's own;
            # the second field's are this frame's first field and the next frame's
            previous, following = (index - 1, index) if field == 0 else (index, index + 1)
            sides = [self.raw.get(previous), self.raw.get(following)]
            if planes is not None and all(_same_layout(planes, side) for side in sides if side is not None):
                bits = out.format.components[0].bits
                fill_missing_lines(self.flow, planes, self.first_parity ^ field, *sides, bits)
            for old in [k for k in self.raw if k < index - 1]:
                del self.raw[old]
        return frames


def _planes(frame, copy: bool = False) -> list[np.ndarray] | None:
    """The planes of a planar frame as arrays (views, unless ``copy``); None for layouts the fill skips."""
    bits = frame.format.components[0].bits
    if frame.format.name.endswith("be") or bits > 16 or any(c.bits != bits for c in frame.format.components):
        return None
    dtype = np.dtype(np.uint8 if bits <= 8 else np.uint16)
    planes = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
        view = rows[:, : plane.width]
        planes.append(view.copy() if copy else view)
    return planes


def _same_layout(planes: list[np.ndarray], other: list[np.ndarray] | None) -> bool:
    """Whether two frames' planes match in number, size and type (bwdif may have converted the format)."""
    return other is not None and [(p.shape, p.dtype) for p in planes] == [(p.shape, p.dtype) for p in other]


def _one_filter(stream, name: str, args: str | None = None):
    """A configured graph: frames of ``stream`` -> the filter ``name`` -> a sink."""
    graph = av.filter.Graph()
    src = graph.add_buffer(template=stream)
    node = graph.add(name, args) if args else graph.add(name)
    sink = graph.add("buffersink")
    src.link_to(node)
    node.link_to(sink)
    graph.configure()
    return graph


def _drain(graph) -> list:
    """Every frame the graph can give now."""
    frames = []
    while True:
        try:
            frames.append(graph.vpull())
        except (av.BlockingIOError, av.EOFError):
            return frames
