"""Audio and subtitle streams next to the enhanced video: copied packet for packet, or transcoded
where the output container cannot hold their codec. Nothing is dropped silently."""

from __future__ import annotations

import logging

from models.errors import UnsupportedInput

log = logging.getLogger(__name__)


class SideStreams:
    """The non-video streams of an input, mapped onto an output container."""

    def __init__(self, inp, out, video_stream):
        self.copies: dict[int, object] = {}
        self.transcodes: dict[int, object] = {}
        supported = out.supported_codecs
        for stream in inp.streams:
            if stream is video_stream:
                continue
            name = getattr(stream.codec_context, "name", None)
            if stream.type in ("audio", "subtitle") and name is None:
                # FFmpeg has no decoder for it: we could neither copy it knowingly nor transcode it
                raise UnsupportedInput(
                    f"{stream.type} stream #{stream.index} uses a codec FFmpeg cannot read"
                )
            if stream.type in ("audio", "subtitle") and name in supported:
                self.copies[stream.index] = out.add_stream_from_template(stream)
                lang = stream.metadata.get("language")
                if lang:
                    self.copies[stream.index].metadata["language"] = lang
            elif stream.type == "audio":
                codec = "libopus" if out.format.name == "webm" else "aac"
                new = out.add_stream(codec, rate=48000 if codec == "libopus" else stream.rate)
                new.layout = stream.layout
                self.transcodes[stream.index] = new
            elif stream.type == "subtitle":
                raise UnsupportedInput(
                    f"subtitle stream #{stream.index} ({name}) cannot be stored in a "
                    f"{out.format.name} file; write an .mkv output to keep it"
                )
            else:
                log.warning(
                    "not copying stream #%d (%s, %s): only one video stream is enhanced",
                    stream.index,
                    stream.type,
                    name,
                )
        self.out = out
        self.input_streams = [inp.streams[i] for i in (*self.copies, *self.transcodes)]

    def mux(self, packet) -> None:
        """Write one input packet: as is for copied streams, decoded and re-encoded otherwise."""
        index = packet.stream.index
        if index in self.copies:
            packet.stream = self.copies[index]
            self.out.mux(packet)
            return
        encoder = self.transcodes[index]
        for frame in packet.decode():
            frame.pts = None  # the encoder counts samples itself; the source time base differs
            self.out.mux(encoder.encode(frame))

    def flush(self) -> None:
        """Drain the transcoders at the end."""
        for encoder in self.transcodes.values():
            self.out.mux(encoder.encode(None))
