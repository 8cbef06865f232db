"""The streaming video pipeline: PyAV decode -> enhance in batches -> PyAV encode.

Three stages overlap: a decode thread fills a bounded queue with batches of planar RGB frames, the enhance
stage (app.pipeline.compute: worker threads, several batches in flight) turns them into encoder-ready
frames, and an encode thread encodes and muxes them together with every audio and subtitle packet (copied,
or transcoded when the output container cannot hold the codec). Queues are bounded, so memory stays flat
however long the video is. Frame timestamps are the input's (VFR stays VFR); rotation and colour tags are
carried over. Each stage counts the CPU seconds its own threads spent (RunResult.stages; the decoder's
internal frame threads are not included), so a slow run says which stage held it back.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import av
from av.video.reformatter import VideoReformatter

from models.base import Enhancer
from models.chain import split_temporal
from models.errors import BadOption, Canceled, InvalidVideo, OutputError

from .compute import EnhanceStage, PendingFrames, pin_single_thread, stage_layout
from .encoders import CODEC_IDS, CODECS, CodecChoice, chroma_of, encoder_options, frame_size, pick_encoder
from .frames import frame_to_planes, new_planes
from .interlace import Deinterlacer, decide
from .options import DEFAULT_CRF, EnhanceOptions
from .probing import DecodeLimits, MediaInfo, open_input
from .progress import ProgressTracker
from .request import frames_wanted
from .segments import lead_in
from .sizes import bit_depth, scaled_size
from .streams import SideStreams
from .temporal import DEFAULT_WARMUP, CutDetector, WindowStream, overlap

__all__ = ["CODECS", "CodecChoice", "RunResult", "enhance_video"]

log = logging.getLogger(__name__)

_END = object()  # sentinel that closes a queue
QUEUE_BATCHES = 2  # batches in flight between two stages: enough to overlap, small enough to stay flat


@dataclass
class RunResult:
    """What a finished run produced."""

    frames: int
    width: int
    height: int
    seconds: float | None = None
    #: CPU seconds per stage (decode, enhance summed over workers, encode), workers and batch size
    stages: dict = field(default_factory=dict)
    #: how the input was deinterlaced: {"mode", "parity", "detected_by"}, or None when it was not
    deinterlaced: dict | None = None


class VideoRun:
    """One decode -> enhance -> encode run over an open input and output container."""

    def __init__(
        self,
        inp,
        out,
        enhancer: Enhancer,
        options: EnhanceOptions,
        info: MediaInfo,
        tracker,
        should_cancel=None,
        window: tuple[int, int | None] | None = None,
        reach: SegmentReach | None = None,
    ):
        self.inp, self.out = inp, out
        self.should_cancel = should_cancel
        # a segment of a split job: only frames with start <= pts < end are written, video only, no
        # B-frames so the segments' packets can be concatenated with monotonic decode timestamps
        self.window = window
        # what a segment decodes beyond its own frames for a temporal stage (none without one)
        self.reach = reach or (SegmentReach(window[0], 0, None) if window else None)
        self.enhancer, self.options, self.info = enhancer, options, info
        # a chain ending in a temporal stage: its per-frame links run in the workers, the stage on windows
        self.per_frame, self.temporal = split_temporal(enhancer)
        self.tracker = tracker
        self.vin = inp.streams.video[0]
        self.vin.thread_type = "AUTO"
        self.deinterlace = decide(options.deinterlace, info.interlacing)
        self.rate_factor = 2 if self.deinterlace and self.deinterlace[0] == "field" else 1
        # bwdif's frames carry timestamps in half the input's time base (both modes)
        self.pts_factor = 2 if self.deinterlace else 1
        self.time_base = self.vin.time_base / self.pts_factor
        self.bits = 16 if bit_depth(info.pix_fmt) > 8 else 8
        self.choice = CODECS[options.codec]
        self.scaled = scaled_size(info.width, info.height, enhancer.scale, options.outscale)
        self.pix_fmt = self.choice.pix_fmt(info.pix_fmt, self.bits)
        self.final = frame_size(*self.scaled, self.pix_fmt)
        self.workers, self.batch = stage_layout(enhancer, info.width, info.height, options.batch)
        self.frames_in = queue.Queue(QUEUE_BATCHES)
        self.frames_out = queue.Queue(QUEUE_BATCHES)
        self.side_packets: queue.SimpleQueue = queue.SimpleQueue()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.written = 0
        self.busy = {"decode": 0.0, "encode": 0.0}  # CPU seconds of each I/O stage's thread
        self._setup_video_stream()
        self.side = None if window else SideStreams(inp, out, self.vin)

    # -- stream set-up ---------------------------------------------------------------------------
    def _setup_video_stream(self) -> None:
        """Add the output video stream with the input's rate, time base, colour tags and rotation."""
        if CODEC_IDS[self.options.codec] not in self.out.supported_codecs:
            raise BadOption(
                f"the {self.out.format.name} container cannot hold {self.options.codec}; "
                f"use an .mkv output or another --codec"
            )
        rate = self.vin.average_rate or self.vin.guessed_rate or Fraction(25)
        device = self.enhancer.device.type
        encoder = pick_encoder(self.options.codec, device, self.bits, chroma_of(self.pix_fmt))
        vout = self.out.add_stream(encoder, rate=rate * self.rate_factor)
        vout.width, vout.height = self.final
        vout.pix_fmt = self.pix_fmt
        vout.time_base = self.time_base
        vout.codec_context.time_base = self.time_base
        if self.deinterlace:
            vout.codec_context.field_order = 1  # AV_FIELD_PROGRESSIVE: the frames are progressive now
        crf = self.options.crf if self.options.crf is not None else DEFAULT_CRF[self.options.codec]
        vout.options = encoder_options(
            encoder,
            crf,
            self.options.preset,
            device,
            no_bframes=bool(self.window),
            pixels=self.final[0] * self.final[1],
            hdr=self.info.hdr,
        )
        src = self.vin.codec_context
        for tag in ("color_primaries", "color_trc", "colorspace", "color_range"):
            value = getattr(src, tag, None)
            if value:
                setattr(vout.codec_context, tag, value)
        if self.info.rotation:
            vout.set_display_rotation(self.info.rotation)
        self.vout = vout

    # -- the three stages -----------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run the pipeline to the end; re-raise the first error of any stage."""
        stage = EnhanceStage(
            self.enhancer,
            self.scaled,
            self.final,
            self.bits,
            self.vout.pix_fmt,
            self.vout.codec_context.colorspace or None,
            self.workers,
        )
        decoder = threading.Thread(
            target=self._guard, args=(self._decode, "decode"), name="decode", daemon=True
        )
        encoder = threading.Thread(
            target=self._guard, args=(self._encode, "encode"), name="encode", daemon=True
        )
        decoder.start()
        encoder.start()
        try:
            self._guard(functools.partial(self._enhance, stage))
        finally:
            if self.errors:
                self.stop.set()
            stage.close()
            decoder.join()
            encoder.join()
        if self.errors:
            raise self.errors[0]
        self.tracker.finish()
        stages = {**self.busy, "enhance": stage.busy, "workers": stage.workers, "batch": self.batch}
        deinterlaced = None
        if self.deinterlace:
            found = self.info.interlacing
            deinterlaced = {
                "mode": self.deinterlace[0],
                "parity": self.deinterlace[1],
                "detected_by": found.source if found else None,
            }
        return RunResult(self.written, *self.final, stages=stages, deinterlaced=deinterlaced)

    def _guard(self, stage, name: str | None = None) -> None:
        """Run a stage (counting its thread's CPU time); remember its error and tell the others to stop."""
        began = time.thread_time()
        try:
            stage()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, re-raised there
            self.errors.append(exc)
            self.stop.set()
        finally:
            if name:
                self.busy[name] = time.thread_time() - began

    def _put(self, q: queue.Queue, item) -> bool:
        """Put without blocking forever when another stage has failed; False means stop."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue):
        """Get without blocking forever when another stage has failed; _END means stop."""
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def _decode(self) -> None:
        """Demux and decode; batches of planar RGB frames go to the enhancer, other packets to the muxer.

        demux() ends with an empty packet per stream, which flushes the decoder's reordered frames. With a
        deinterlacer, decoded frames go through it first; a segment (``window``) then also decodes the
        frame before its start and the one at its end, so bwdif sees the same neighbours as in an unsplit
        run and the segment's frames are the unsplit run's. With a temporal stage it decodes the frames
        ``self.reach`` names around its own too (the stage's window, a recursive stage's warm-up).
        """
        deint = Deinterlacer(self.vin, *self.deinterlace) if self.deinterlace else None
        factor = self.pts_factor
        if self.window:
            # a segment: its own frames, those before them a temporal stage needs (from reach.first), and
            # ``reach.trail`` after them, never at or past reach.stop (the job's end); the plan already
            # cut a --frames preview, so no limit here
            end, reach = self.window[1], self.reach
            start = reach.first
            state = _DecodeState(
                None,
                start * factor,
                None if reach.stop is None else reach.stop * factor,
                None if end is None else end * factor,
                reach.trail,
            )
        else:
            start = None
            state = _DecodeState(self.options.frames, None, None)
        streams = [self.vin, *(self.side.input_streams if self.side else ())]
        try:
            if start:
                # the keyframe at or before start (before the frame before it, for the deinterlacer)
                self.inp.seek(start - 1 if deint else start, stream=self.vin, backward=True)
            for packet in self.inp.demux(*streams):
                if self.stop.is_set():
                    return
                if packet.stream is not self.vin:
                    if packet.dts is None:
                        continue
                    late = (
                        packet.pts is not None
                        and state.end_time is not None
                        and packet.pts * packet.time_base > state.end_time
                    )
                    if late:
                        continue
                    self.side_packets.put(packet)
                    continue
                if state.done:
                    continue
                for frame in packet.decode():
                    if not self._take(deint.push(frame) if deint else [frame], state):
                        state.done = True
                        break
                if state.done and self.window:
                    break  # a segment has no side streams to keep reading for
            if deint and not state.done:
                self._take(deint.flush(), state)
        except av.error.FFmpegError as exc:
            raise InvalidVideo(
                f"decoding failed after {state.count} frames (truncated or corrupt input): {exc}"
            ) from (exc)
        if state.aborted:
            return
        if state.stamps and not self._put(self.frames_in, (state.planes[: len(state.stamps)], state.stamps)):
            return
        if state.count == 0:
            raise InvalidVideo("the video stream holds no decodable frame")
        self._put(self.frames_in, _END)

    def _take(self, frames: list, state: _DecodeState) -> bool:
        """Copy frames (in the output's time base) into batches; False once no more are wanted."""
        for frame in frames:
            if state.start is not None and frame.pts is not None and frame.pts < state.start:
                continue
            if state.end is not None and frame.pts is not None and frame.pts >= state.end:
                return False
            if state.own_end is not None and frame.pts is not None and frame.pts >= state.own_end:
                if not state.trail:
                    return False
                state.trail -= 1  # one of the frames a segment reads past its own for a temporal stage
            if state.planes is None:  # the output was sized from the probed size: frames are scaled to it
                state.planes = new_planes(
                    self.batch,
                    self.info.height,
                    self.info.width,
                    self.bits,
                    self.enhancer.device.type == "cuda",
                )
            frame_to_planes(frame, self.bits, state.planes[len(state.stamps)], state.reformatter)
            state.stamps.append(frame.pts)
            state.count += 1
            if len(state.stamps) == self.batch:
                if not self._put(self.frames_in, (state.planes, state.stamps)):
                    state.aborted = True
                    return False
                state.planes, state.stamps = None, []
            if state.limit and state.count >= state.limit:
                state.end_time = _frame_end(frame)
                return False
        return True

    def _enhance(self, stage: EnhanceStage) -> None:
        """Feed batches to the enhance workers and pass their results on in order, ``workers`` in flight."""
        if self.temporal:
            return self._enhance_temporal(stage)
        if self._pump(stage.workers, lambda pixels, stamps: (stage.submit(pixels), stamps), self._pass_on):
            self._put(self.frames_out, _END)

    def _enhance_temporal(self, stage: EnhanceStage) -> None:
        """The per-frame links in the workers (``workers`` batches in flight), then, in order, the temporal
        stage on each frame's window (app/pipeline/temporal.py: bounded, cut-aware): a windowed stage in
        this thread, a recursive one in a thread of its own (``_serial``)."""
        stream = WindowStream(self.temporal.window_before, self.temporal.window_after)
        self.window_stream = stream  # tests read its high-water mark
        self.temporal_state = self.temporal.new_state()  # a recursive stage's history, this video's only
        cuts = CutDetector()

        def submit(pixels, stamps):
            future = stage.submit_tensor(pixels, self.per_frame)
            # a recursive stage also gets each frame's source frame (a copy: the batch is not kept alive)
            sources = [p.copy() for p in pixels] if self.temporal.recursive else [None] * len(stamps)
            return future, stamps, cuts.push(pixels), sources

        with self._serial(stage.workers) as run:
            if self._pump(stage.workers, submit, lambda done: run(self._windows_on, stage, stream, done)):
                # the stream's end is taken in the stage's thread too, after every window queued before it
                if run(lambda: self._filter_on(stage, stream.finish()), last=True):
                    self._put(self.frames_out, _END)

    @contextlib.contextmanager
    def _serial(self, backlog: int):
        """Yields ``run(fn, *args, last=False)``: whether the stage may go on (fn's result, False = stop).

        A windowed stage (``temporalfix``) runs in this thread: ``run`` calls fn at once. A recursive stage
        runs in one thread of its own, with ONE torch intra-op thread (compute.py's pinning), and ``run``
        only queues fn there (in order), waiting for the oldest call once ``backlog`` are queued (``last``:
        for all of them). So the pump keeps handing the enhance workers batches while the stage filters,
        instead of leaving one worker idle for each batch the stage works through (worth 24.5 -> 25.5 fps
        for realesr-animevideov3+stabilize at 160x120 -> 640x480: docs/BENCHMARKS.md, "stabilize cost").

        A recursive stage is serial by nature (each frame needs the previous output), so it gains nothing
        from a team of threads; run with the process's default team, each of its frame-sized torch
        operations (windows, resize, conversion to integers) woke a second OpenMP thread on a core the enhance
        workers already fill, and libgomp's spinning made the stage cost several times its own CPU time.
        """
        if not self.temporal.recursive:
            yield lambda fn, *args, last=False: fn(*args)
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="temporal")
        pin_single_thread(pool, 1)
        queued: deque = deque()

        def run(fn, *args, last: bool = False) -> bool:
            queued.append(pool.submit(fn, *args))
            while queued and (last or len(queued) > backlog or queued[0].done()):
                if not queued.popleft().result():  # raises what the stage raised
                    return False
            return True

        try:
            yield run
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _pump(self, workers: int, submit, deliver) -> bool:
        """Read batches and ``submit(pixels, stamps)`` each; ``deliver`` the oldest once ``workers`` are in
        flight, in order, then the rest. False when the run stopped (the encoder is gone)."""
        in_flight: deque = deque()
        while True:
            item = self._get(self.frames_in)
            if item is _END:
                break
            if self.should_cancel and self.should_cancel():
                raise Canceled("canceled by request")
            in_flight.append(submit(*item))
            if len(in_flight) >= workers and not deliver(in_flight.popleft()):
                return False
        while in_flight:
            if not deliver(in_flight.popleft()):
                return False
        return True

    def _windows_on(self, stage: EnhanceStage, stream: WindowStream, done) -> bool:
        """Wait for the oldest per-frame batch, push its frames into the windows, filter the ready ones."""
        future, stamps, cuts, sources = done
        frames = future.result()
        for frame, stamp, cut, source in zip(frames, stamps, cuts, sources, strict=True):
            # the stream carries a frame's source and scene start with its timestamp, out with its window;
            # a recursive stage takes frame t alone (its past is in its state): no window to copy together
            tag = _Tag(stamp, source, cut)
            ready = [(frame.unsqueeze(0), tag)] if self.temporal.recursive else stream.push(frame, tag, cut)
            if not self._filter_on(stage, ready):
                return False
        return True

    def _filter_on(self, stage: EnhanceStage, ready: list) -> bool:
        """Run the temporal stage on each ready window (a recursive stage: frame) and queue its frame for the
        encoder; False = stop."""
        for window, tag in ready:
            own = self._own(tag.stamp)
            warm_up = own is None and self.temporal.recursive
            if not (own or warm_up):
                continue  # a segment read this frame for its neighbours' windows only
            began = time.thread_time()
            if self.temporal.recursive:
                out = self.temporal.filter_frame(window, tag.source, tag.scene_start, self.temporal_state)
            else:
                out = self.temporal.process_window(window)
            # a warm-up frame's output only warmed the history up: the previous segment writes it
            frames = None if warm_up else stage.finish(out)
            self.busy["temporal"] = self.busy.get("temporal", 0.0) + time.thread_time() - began
            if warm_up:
                continue
            if not self._put(self.frames_out, (frames, [tag.stamp])):
                return False
        return True

    def _own(self, stamp) -> bool | None:
        """True for a frame this run writes; None for one a segment read before its own, False after."""
        if not self.window:
            return True
        start, end = (None if p is None else p * self.pts_factor for p in self.window)
        if stamp is not None and stamp < start:
            return None
        return not (stamp is not None and end is not None and stamp >= end)

    def _pass_on(self, done) -> bool:
        """Wait for the oldest batch in flight and queue its frames for the encoder."""
        future, stamps = done
        return self._put(self.frames_out, (future.result(), stamps))

    def _encode(self) -> None:
        """Encode enhanced frames with the input's timestamps; mux them with the side packets."""
        last_pts = None
        try:
            while True:
                self._mux_side_packets()
                item = self._get(self.frames_out)
                if item is _END:
                    break
                frames, stamps = item
                if isinstance(frames, PendingFrames):
                    frames = frames.wait()
                for frame, pts in zip(frames, stamps, strict=True):
                    # A frame without a timestamp, or one not after its predecessor (broken muxers), is
                    # placed right after it: encoders refuse non-increasing timestamps.
                    if pts is None or (last_pts is not None and pts <= last_pts):
                        pts = 0 if last_pts is None else last_pts + 1
                    frame.pts, frame.time_base = pts, self.time_base
                    last_pts = pts
                    self.out.mux(self.vout.encode(frame))
                    # frame by frame, so the progress (and its fps) is as fine as the encoder's work
                    self.written += 1
                    self.tracker.advance(1)
            if self.stop.is_set():
                return
            self.out.mux(self.vout.encode(None))
            self._mux_side_packets()
            if self.side:
                self.side.flush()
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError) and exc.errno == 28:
                raise OutputError("no space left on the device while writing the output") from exc
            raise OutputError(f"encoding failed: {exc.strerror or type(exc).__name__}") from exc  # no paths

    def _mux_side_packets(self) -> None:
        """Write every audio/subtitle packet the decoder has passed on so far."""
        while True:
            try:
                packet = self.side_packets.get_nowait()
            except queue.Empty:
                return
            self.side.mux(packet)


@dataclass(frozen=True)
class SegmentReach:
    """What a segment decodes: from pts ``first`` (at or before its own start) to its own end, then
    ``trail`` frames more, never at or past pts ``stop`` (the job's end; None: the video's)."""

    first: int
    trail: int
    stop: int | None


@dataclass
class _Tag:
    """What travels through the window stream with a frame: its timestamp, its source frame (planar
    integers, recursive stages only) and whether it starts a scene."""

    stamp: object
    source: object
    scene_start: bool


class _DecodeState:
    """The decode thread's running state: the batch being filled and where to stop."""

    def __init__(
        self, limit: int | None, start: int | None, end: int | None, own_end: int | None = None, trail=0
    ):
        self.limit, self.start, self.end = limit, start, end
        self.own_end, self.trail = own_end, trail  # a segment's end, and how many frames to read past it
        self.reformatter = VideoReformatter()  # one per thread: it keeps its swscale context between frames
        self.planes = None
        self.stamps: list = []
        self.count = 0
        self.end_time = None  # set when --frames stops early: side packets after it are dropped
        self.done = False
        self.aborted = False  # another stage failed while a batch was being handed on


def _frame_end(frame) -> Fraction | None:
    """The presentation time at which ``frame`` ends (for trimming audio to a --frames preview)."""
    if frame.pts is None or frame.time_base is None:
        return None
    duration = frame.duration or 0
    return (frame.pts + duration) * frame.time_base


def enhance_video(
    src,
    tmp_dst,
    enhancer: Enhancer,
    options: EnhanceOptions,
    info: MediaInfo,
    progress=None,
    should_cancel=None,
    window: tuple[int, int | None] | None = None,
    window_frames: int | None = None,
    limits: DecodeLimits | None = None,
    stop: int | None = None,
    warmup: int = DEFAULT_WARMUP,
) -> RunResult:
    """Enhance the video at ``src`` into ``tmp_dst`` (a temporary path the caller renames).

    With ``window`` (start_pts, end_pts) only that piece is enhanced, video only: a segment of a split job.
    With a temporal stage the segment also reads the frames it needs around its own (``segment_reach``),
    up to ``stop`` (the job's end pts: a --frames preview's; None: the video's), a recursive stage
    ``warmup`` frames before its start. ``limits`` bound the decoder (default: this process's).
    """
    total = frames_wanted(info, options)
    if window:  # a segment: its own frames (each of them twice with field deinterlacing)
        plan = decide(options.deinterlace, info.interlacing)
        total = window_frames * (2 if plan and plan[0] == "field" else 1) if window_frames else None
    tracker = ProgressTracker(total, progress)
    reach = segment_reach(src, enhancer, window, stop, warmup, limits) if window else None
    with open_input(src, limits) as inp:
        try:
            out = av.open(str(tmp_dst), mode="w")
        except ValueError as exc:  # no muxer for this extension
            raise BadOption(f"cannot write {tmp_dst.suffix or 'files without an extension'}: {exc}") from exc
        except av.error.FFmpegError as exc:
            raise OutputError(f"cannot create the output: {exc.strerror or exc}") from exc
        try:
            result = VideoRun(inp, out, enhancer, options, info, tracker, should_cancel, window, reach).run()
        except BaseException:
            with contextlib.suppress(Exception):
                out.close()
            raise
        try:
            out.close()  # writes the trailer (the mp4 index): a full disk shows up here
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(
                f"cannot finish writing the output: {getattr(exc, 'strerror', None) or exc}"
            ) from exc
        return result


def segment_reach(
    src, enhancer: Enhancer, window: tuple[int, int | None], stop: int | None, warmup: int, limits=None
) -> SegmentReach:
    """What a segment decodes so that a temporal stage sees in it what it sees in an unsplit run: the
    frames ``overlap`` asks for before its start (found from packets) and after its end, up to ``stop``."""
    lead, trail = overlap(split_temporal(enhancer)[1], warmup)
    if not lead:
        return SegmentReach(window[0], 0, stop)
    with open_input(src, limits) as inp:
        return SegmentReach(lead_in(inp, window[0], lead), trail, stop)
