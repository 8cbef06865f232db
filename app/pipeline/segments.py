"""Long videos split at keyframes into segments that run on different workers, then joined.

Each segment is enhanced into a video-only file that keeps the input's timestamps and has no B-frames, so
joining is a stream copy: the segments' packets one after the other (decode timestamps stay monotonic),
interleaved by time with the audio and subtitle packets copied from the original input. No frame is
re-encoded at a join, none is dropped or doubled, and the audio is the original, continuous.

A chain with a temporal stage needs its neighbours: a segment also decodes some frames before its first
(``lead_in``) and after its last, runs them through the chain and writes only its own (app/pipeline/video.py).
"""

from __future__ import annotations

import contextlib
import heapq
from dataclasses import dataclass

import av

from models.errors import InvalidVideo, OutputError

from .probing import open_input
from .streams import SideStreams


@dataclass(frozen=True)
class SegmentPlan:
    """One segment: frames with start_pts <= pts < end_pts (end None = to the end)."""

    index: int
    start_pts: int
    end_pts: int | None
    frames: int


def plan_segments(path: str, segment_frames: int, limit: int | None = None) -> list[SegmentPlan]:
    """Cut the video into pieces of about ``segment_frames`` frames, each starting at a keyframe.

    Only packets are read (no decoding), so planning even a long video takes seconds.
    """
    with open_input(path) as container:
        stream = container.streams.video[0]
        try:
            stamps = sorted(
                (p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None and p.size
            )
        except av.error.FFmpegError as exc:
            raise InvalidVideo(f"cannot read the video packets: {exc}") from exc
    frames = stamps[:limit] if limit else stamps
    if not frames:
        raise InvalidVideo("the video stream holds no frame")
    cuts = [0]
    for i, (_, key) in enumerate(frames):
        if key and i - cuts[-1] >= segment_frames:
            cuts.append(i)
    plans = []
    for n, first in enumerate(cuts):
        last = cuts[n + 1] if n + 1 < len(cuts) else len(frames)
        end = (
            stamps[last][0] if last < len(stamps) else None
        )  # the next frame's pts, also past a --frames cut
        plans.append(SegmentPlan(n, frames[first][0], end, last - first))
    return plans


def lead_in(container, start_pts: int, frames: int) -> int:
    """The pts of the ``frames``-th frame before ``start_pts`` (the video's first frame's when fewer precede
    it), read from packets only: seek back a keyframe at a time until enough frames precede the start."""
    stream = container.streams.video[0]
    target, earliest = start_pts, None
    while True:
        try:
            container.seek(target - 1, stream=stream, backward=True)  # the keyframe at or before target-1
        except av.error.FFmpegError:  # nothing to seek to before target: from the beginning
            container.seek(0, stream=stream, backward=True, any_frame=False)
        stamps = []
        # segments start at keyframes and GOPs are closed: every frame before the start comes before it
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            if packet.pts >= start_pts:
                break
            stamps.append(packet.pts)
        stamps.sort()
        if len(stamps) >= frames:
            return stamps[-frames]
        if not stamps or stamps[0] == earliest:  # the seek cannot go further back: the video's start
            return stamps[0] if stamps else start_pts
        earliest = target = stamps[0]


def join_segments(
    src: str, segment_paths: list[str], tmp_dst, rotation: int = 0, end_pts: int | None = None
) -> int:
    """Join enhanced segments and the original's side streams into ``tmp_dst``; returns frames written.

    ``end_pts`` (the input video's time base) drops side packets that start after the last frame, as an
    unsplit ``--frames`` preview does.
    """
    if not segment_paths:
        raise OutputError("no segments to join")
    opened = []
    written = 0
    try:
        opened = [av.open(str(p)) for p in segment_paths]
        with open_input(src) as inp, av.open(str(tmp_dst), mode="w") as out:
            vout = out.add_stream_from_template(opened[0].streams.video[0])
            if rotation:
                vout.set_display_rotation(rotation)
            side = SideStreams(inp, out, inp.streams.video[0])
            audio_end = end_pts * inp.streams.video[0].time_base if end_pts is not None else None
            for kind, packet in _by_time(_video_packets(opened), _side_packets(inp, side)):
                if kind == "video":
                    packet.stream = vout
                    out.mux(packet)
                    written += 1
                elif audio_end is None or packet.pts is None or packet.pts * packet.time_base <= audio_end:
                    side.mux(packet)
            side.flush()
    except av.error.FFmpegError as exc:
        raise OutputError(f"joining the segments failed: {exc.strerror or type(exc).__name__}") from exc
    finally:
        for container in opened:
            with contextlib.suppress(Exception):
                container.close()
    return written


def _video_packets(containers):
    """The video packets of every segment in order, without the demuxer's empty flush packets."""
    for container in containers:
        for packet in container.demux(container.streams.video[0]):
            if packet.size and packet.dts is not None:
                yield packet


def _side_packets(inp, side: SideStreams):
    """The audio/subtitle packets of the original input."""
    if not side.input_streams:
        return
    for packet in inp.demux(*side.input_streams):
        if packet.dts is not None:
            yield packet


def _by_time(video, others):
    """Merge two packet streams by decode time, so the muxer never has to buffer a whole stream."""

    def keyed(rank, packets):
        for n, packet in enumerate(packets):
            yield (packet.dts * packet.time_base, rank, n), packet

    merged = heapq.merge(keyed(0, video), keyed(1, others), key=lambda item: item[0])
    for (_, rank, _), packet in merged:
        yield ("video" if rank == 0 else "side"), packet
