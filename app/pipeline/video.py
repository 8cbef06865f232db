"""The streaming video pipeline: PyAV decode -> enhance in batches -> PyAV encode.

Three stages overlap: a decode thread fills a bounded queue with batches of frames, the calling thread
runs the enhancer on them, and an encode thread encodes and muxes the results together with every audio
and subtitle packet (copied, or transcoded when the output container cannot hold the codec). Queues are
bounded, so memory stays flat however long the video is. Frame timestamps are the input's (VFR stays
VFR); rotation and colour tags are carried over.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from models.base import Enhancer
from models.errors import BadOption, Canceled, InvalidVideo, OutputError

from .frames import even_size, fit, from_tensor, scaled_size, to_tensor
from .options import EnhanceOptions
from .probe import MediaInfo, open_input
from .progress import ProgressTracker
from .streams import SideStreams

log = logging.getLogger(__name__)

_END = object()  # sentinel that closes a queue
QUEUE_BATCHES = 2  # batches in flight between two stages: enough to overlap, small enough to stay flat


@dataclass(frozen=True)
class CodecChoice:
    """How one ``--codec`` value is encoded."""

    encoder: str
    pix_fmt: str
    pix_fmt_10bit: str
    default_crf: int | None
    needs_even: bool


CODECS = {
    "h264": CodecChoice("libx264", "yuv420p", "yuv420p10le", 18, True),
    "h265": CodecChoice("libx265", "yuv420p", "yuv420p10le", 20, True),
    "vp9": CodecChoice("libvpx-vp9", "yuv420p", "yuv420p", 31, True),  # the bundled libvpx is 8-bit only
    "ffv1": CodecChoice("ffv1", "yuv444p", "yuv444p10le", None, False),
}
_CODEC_IDS = {"h264": "h264", "h265": "hevc", "vp9": "vp9", "ffv1": "ffv1"}


@dataclass
class RunResult:
    """What a finished run produced."""

    frames: int
    width: int
    height: int
    seconds: float | None = None


def auto_batch(width: int, height: int, device_type: str) -> int:
    """Frames per forward pass: enough pixels to keep the device busy, few enough to stay in memory."""
    budget = 4_000_000 if device_type == "cuda" else 500_000
    return max(1, min(16, budget // max(1, width * height)))


def bit_depth(pix_fmt: str | None) -> int:
    """8 for ordinary formats; 10/12/16 for high-bit-depth ones (from the pixel format name)."""
    if not pix_fmt:
        return 8
    fmt = av.VideoFormat(pix_fmt)
    return max(c.bits for c in fmt.components) if fmt.components else 8


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
    ):
        self.inp, self.out = inp, out
        self.should_cancel = should_cancel
        # a segment of a split job: only frames with start <= pts < end, video only, no B-frames so the
        # segments' packets can be concatenated with monotonic decode timestamps
        self.window = window
        self.enhancer, self.options, self.info = enhancer, options, info
        self.tracker = tracker
        self.vin = inp.streams.video[0]
        self.vin.thread_type = "AUTO"
        self.bits = 16 if bit_depth(info.pix_fmt) > 8 else 8
        self.choice = CODECS[options.codec]
        self.scaled = scaled_size(info.width, info.height, enhancer.scale, options.outscale)
        self.final = even_size(*self.scaled) if self.choice.needs_even else self.scaled
        self.batch = options.batch or auto_batch(info.width, info.height, enhancer.device.type)
        self.frames_in = queue.Queue(QUEUE_BATCHES)
        self.frames_out = queue.Queue(QUEUE_BATCHES)
        self.side_packets: queue.SimpleQueue = queue.SimpleQueue()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.written = 0
        self._setup_video_stream()
        self.side = None if window else SideStreams(inp, out, self.vin)

    # -- stream set-up ---------------------------------------------------------------------------
    def _setup_video_stream(self) -> None:
        """Add the output video stream with the input's rate, time base, colour tags and rotation."""
        if _CODEC_IDS[self.options.codec] not in self.out.supported_codecs:
            raise BadOption(
                f"the {self.out.format.name} container cannot hold {self.options.codec}; "
                f"use an .mkv output or another --codec"
            )
        rate = self.vin.average_rate or self.vin.guessed_rate or Fraction(25)
        vout = self.out.add_stream(self.choice.encoder, rate=rate)
        vout.width, vout.height = self.final
        vout.pix_fmt = self.choice.pix_fmt_10bit if self.bits > 8 else self.choice.pix_fmt
        vout.time_base = self.vin.time_base
        vout.codec_context.time_base = self.vin.time_base
        options = {}
        crf = self.options.crf if self.options.crf is not None else self.choice.default_crf
        if crf is not None:
            options["crf"] = str(crf)
        if self.choice.encoder in ("libx264", "libx265"):
            options["preset"] = self.options.preset
        if self.choice.encoder == "libx265":
            options["x265-params"] = "log-level=error" + (":bframes=0" if self.window else "")
        if self.choice.encoder == "libx264" and self.window:
            options["bf"] = "0"
        if self.choice.encoder == "libvpx-vp9":
            options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        vout.options = options
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
        decoder = threading.Thread(target=self._guard, args=(self._decode,), name="decode", daemon=True)
        encoder = threading.Thread(target=self._guard, args=(self._encode,), name="encode", daemon=True)
        decoder.start()
        encoder.start()
        try:
            self._guard(self._enhance)
        finally:
            if self.errors:
                self.stop.set()
            decoder.join()
            encoder.join()
        if self.errors:
            raise self.errors[0]
        self.tracker.finish()
        return RunResult(self.written, *self.final)

    def _guard(self, stage) -> None:
        """Run a stage; remember its error and tell the others to stop."""
        try:
            stage()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, re-raised there
            self.errors.append(exc)
            self.stop.set()

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
        """Demux and decode; batches of RGB frames go to the enhancer, other packets to the muxer.

        demux() ends with an empty packet per stream, which flushes the decoder's reordered frames.
        """
        limit = self.options.frames
        fmt = "rgb48le" if self.bits > 8 else "rgb24"
        start, end = self.window or (None, None)
        pixels, stamps = [], []
        count = 0
        end_time = None
        finished = False
        streams = [self.vin, *(self.side.input_streams if self.side else ())]
        try:
            if start:
                self.inp.seek(start, stream=self.vin, backward=True)  # the keyframe at or before start
            for packet in self.inp.demux(*streams):
                if self.stop.is_set():
                    return
                if packet.stream is not self.vin:
                    if packet.dts is None:
                        continue
                    late = (
                        packet.pts is not None
                        and end_time is not None
                        and packet.pts * packet.time_base > end_time
                    )
                    if late:
                        continue
                    self.side_packets.put(packet)
                    continue
                if end_time is not None:
                    continue
                for frame in packet.decode():
                    if start is not None and frame.pts is not None and frame.pts < start:
                        continue
                    if end is not None and frame.pts is not None and frame.pts >= end:
                        finished = True
                        break
                    pixels.append(frame.to_ndarray(format=fmt, src_colorspace=frame.colorspace or None))
                    stamps.append(frame.pts)
                    count += 1
                    if len(pixels) == self.batch:
                        if not self._put(self.frames_in, (np.stack(pixels), stamps)):
                            return
                        pixels, stamps = [], []
                    if limit and count >= limit:
                        end_time = _frame_end(frame)
                        break
                if finished:
                    break
        except av.error.FFmpegError as exc:
            raise InvalidVideo(
                f"decoding failed after {count} frames (truncated or corrupt input): {exc}"
            ) from (exc)
        if pixels and not self._put(self.frames_in, (np.stack(pixels), stamps)):
            return
        if count == 0:
            raise InvalidVideo("the video stream holds no decodable frame")
        self._put(self.frames_in, _END)

    def _enhance(self) -> None:
        """Take batches, enhance them on the device, hand integer frames to the encoder."""
        while True:
            item = self._get(self.frames_in)
            if item is _END:
                self._put(self.frames_out, _END)
                return
            if self.should_cancel and self.should_cancel():
                raise Canceled("canceled by request")
            pixels, stamps = item
            batch = to_tensor(pixels, self.enhancer.device)
            result = fit(self.enhancer.process(batch), self.scaled, self.final)
            if not self._put(self.frames_out, (from_tensor(result, self.bits), stamps)):
                return

    def _encode(self) -> None:
        """Encode enhanced frames with the input's timestamps; mux them with the side packets."""
        fmt = "rgb48le" if self.bits > 8 else "rgb24"
        dst_cs = self.vout.codec_context.colorspace or None
        last_pts = None
        try:
            while True:
                self._mux_side_packets()
                item = self._get(self.frames_out)
                if item is _END:
                    break
                pixels, stamps = item
                for array, pts in zip(pixels, stamps, strict=True):
                    frame = av.VideoFrame.from_ndarray(array, format=fmt)
                    frame = frame.reformat(format=self.vout.pix_fmt, dst_colorspace=dst_cs)
                    # A frame without a timestamp follows its predecessor (rare, broken muxers).
                    pts = pts if pts is not None else (0 if last_pts is None else last_pts + 1)
                    frame.pts, frame.time_base = pts, self.vin.time_base
                    last_pts = pts
                    self.out.mux(self.vout.encode(frame))
                self.written += len(stamps)
                self.tracker.advance(len(stamps))
            if self.stop.is_set():
                return
            self.out.mux(self.vout.encode(None))
            self._mux_side_packets()
            if self.side:
                self.side.flush()
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError) and exc.errno == 28:
                raise OutputError("no space left on the device while writing the output") from exc
            raise OutputError(f"encoding failed: {exc}") from exc

    def _mux_side_packets(self) -> None:
        """Write every audio/subtitle packet the decoder has passed on so far."""
        while True:
            try:
                packet = self.side_packets.get_nowait()
            except queue.Empty:
                return
            self.side.mux(packet)


def frames_wanted(info: MediaInfo, options: EnhanceOptions) -> int | None:
    """How many frames a run will write: the input's count, capped by ``--frames``."""
    if info.frames and options.frames:
        return min(info.frames, options.frames)
    return options.frames or info.frames


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
) -> RunResult:
    """Enhance the video at ``src`` into ``tmp_dst`` (a temporary path the caller renames).

    With ``window`` (start_pts, end_pts) only that piece is enhanced, video only: a segment of a split job.
    """
    total = window_frames if window else frames_wanted(info, options)
    tracker = ProgressTracker(total, progress)
    with open_input(src) as inp:
        try:
            out = av.open(str(tmp_dst), mode="w")
        except ValueError as exc:  # no muxer for this extension
            raise BadOption(f"cannot write {tmp_dst.suffix or 'files without an extension'}: {exc}") from exc
        except av.error.FFmpegError as exc:
            raise OutputError(f"cannot create the output: {exc}") from exc
        try:
            result = VideoRun(inp, out, enhancer, options, info, tracker, should_cancel, window).run()
        except BaseException:
            with contextlib.suppress(Exception):
                out.close()
            raise
        try:
            out.close()  # writes the trailer (the mp4 index): a full disk shows up here
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot finish writing the output: {exc}") from exc
        return result
