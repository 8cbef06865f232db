"""Which output files the pipeline writes: an image makes an image, a video one of four containers, each
with only the codecs it really holds. Checked before anything is decoded, so a refusal leaves no file.

Codec x container, as FFmpeg's muxers take them and as players read the result:

    codec   .mp4  .mov  .mkv  .webm
    h264     yes   yes   yes   no    (WebM holds VP8/VP9/AV1 only)
    h265     yes   yes   yes   no
    vp9      yes   no    yes   yes   (VP9-in-ISOBMFF is specified and browsers play it; FFmpeg's mov muxer
                                      writes it too, but QuickTime, the reason to want .mov, cannot)
    ffv1     no    no    yes   no    (archives keep FFV1 in Matroska; FFmpeg's mp4 muxer accepts it, but
                                      hardly any other reader opens FFV1 in MP4, and mov refuses it)

Other containers are refused: .avi, for one, came out with a bogus frame rate in its header and audio out of
step (its muxer has no per-frame timestamps, so variable-rate video and the input's timing cannot be kept).
"""

from __future__ import annotations

from models.errors import BadOption

#: still-image outputs (OpenCV writes them; see app.pipeline.image)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

#: video container suffix -> the codecs it holds; the first is the default when no codec is asked for
VIDEO_CONTAINERS = {
    ".mp4": ("h264", "h265", "vp9"),
    ".mkv": ("h264", "h265", "vp9", "ffv1"),
    ".mov": ("h264", "h265"),
    ".webm": ("vp9",),
}


def _listed(suffixes) -> str:
    """'.a, .b or .c'."""
    items = list(suffixes)
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else items[0]


def _ending(suffix: str) -> str:
    """How a message says what the output's name ends in."""
    return f"it ends in {suffix}" if suffix else "it has no extension"


def check_output(kind: str, suffix: str) -> None:
    """Refuse (BadOption) an output suffix that ``kind`` ("image" or "video") input cannot be written to."""
    suffix = suffix.lower()
    videos = _listed(VIDEO_CONTAINERS)
    if kind == "image":
        if suffix not in IMAGE_SUFFIXES:
            images = _listed((".png", ".jpg", ".webp", ".bmp", ".tiff"))
            raise BadOption(
                f"an image input makes an image output: name the output {images} ({_ending(suffix)})"
            )
        return
    if suffix in IMAGE_SUFFIXES:
        raise BadOption(f"a video input makes a video output: name the output {videos} ({_ending(suffix)})")
    if not suffix:
        raise BadOption(f"the output has no extension: name it {videos}")
    if suffix not in VIDEO_CONTAINERS:
        raise BadOption(f"cannot write video as {suffix}: name the output {videos}")


def default_codec(suffix: str) -> str:
    """The codec a video container gets when none is asked for (WebM: vp9; the others: h264)."""
    return VIDEO_CONTAINERS[suffix.lower()][0]


def check_codec(codec: str, suffix: str) -> None:
    """Refuse (BadOption) a codec the container cannot hold, naming the containers that can and the codecs
    that fit this one."""
    suffix = suffix.lower()
    fits = VIDEO_CONTAINERS[suffix]
    if codec in fits:
        return
    homes = [s for s, codecs in VIDEO_CONTAINERS.items() if codec in codecs]
    raise BadOption(
        f"{codec} cannot be stored in {suffix}: name the output {_listed(homes)}, "
        f"or use the codec {_listed(fits)} for {suffix}"
    )
