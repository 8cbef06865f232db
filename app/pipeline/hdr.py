"""HDR10 (and HLG) input: recognise it, keep it HDR on the way out, and choose a codec that can carry it.

The networks see the PQ- or HLG-coded values as they are (they were trained on SDR pictures: colours and
contrast are judged on a curve they never saw, so colour models such as lut3d or zero-dce change the look
more than on SDR; upscalers mostly keep it). The output is re-tagged with the input's transfer, primaries,
matrix and range and carries its HDR10 static metadata (mastering display, content light level), which
x265 writes as SEI messages; H.264 at 10 bits plays almost nowhere and VP9 here is 8-bit only, so HDR
goes to 10-bit HEVC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from models.errors import BadOption

from .containers import default_codec

#: AVColorTransferCharacteristic values of the HDR transfers: 16 SMPTE ST 2084 (PQ), 18 ARIB STD-B67 (HLG)
HDR_TRANSFERS = {16: "smpte2084", 18: "arib-std-b67"}
BT2020 = 9  # AVColorPrimaries / AVColorSpace (non-constant luminance) value of BT.2020


@dataclass(frozen=True)
class HdrInfo:
    """The HDR signalling of an input: its transfer and the HDR10 static metadata, as x265 spells them."""

    transfer: str
    master_display: str | None  # "G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)" in x265's units
    max_cll: str | None  # "MaxCLL,MaxFALL"

    def x265_params(self) -> str:
        """The x265-params that write this signalling into the output bitstream."""
        params = [
            "repeat-headers=1",
            "colorprim=bt2020",
            f"transfer={self.transfer}",
            "colormatrix=bt2020nc",
        ]
        if self.master_display:
            params += ["hdr10=1", f"master-display={self.master_display}"]
        if self.max_cll:
            params.append(f"max-cll={self.max_cll}")
        return ":".join(params)


def hdr_info(stream_ctx, first_frame) -> HdrInfo | None:
    """HdrInfo when the stream is PQ or HLG with BT.2020 primaries (metadata: the first frame's side data)."""
    transfer = HDR_TRANSFERS.get(int(stream_ctx.color_trc or 0))
    if transfer is None or int(stream_ctx.color_primaries or 0) != BT2020:
        return None
    master, cll = None, None
    for side in first_frame.side_data if first_frame is not None else ():
        name = getattr(side.type, "name", str(side.type))
        if name == "MASTERING_DISPLAY_METADATA":
            master = _master_display(bytes(side))
        elif name == "CONTENT_LIGHT_LEVEL":
            max_cll, max_fall = struct.unpack("<II", bytes(side)[:8])
            cll = f"{max_cll},{max_fall}"
    return HdrInfo(transfer, master, cll)


def _master_display(raw: bytes) -> str | None:
    """AVMasteringDisplayMetadata (primaries R, G, B, white point, min and max luminance as rationals)
    -> x265's master-display string (chromaticities in 0.00002 units, luminance in 0.0001 cd/m2)."""
    if len(raw) < 88:
        return None
    values = struct.unpack("<20i2i", raw[:88])
    rationals = [values[i] / values[i + 1] if values[i + 1] else 0.0 for i in range(0, 20, 2)]
    has_primaries, has_luminance = values[20], values[21]
    if not (has_primaries and has_luminance):
        return None
    (rx, ry, gx, gy, bx, by, wx, wy, lmin, lmax) = rationals

    def c(v: float) -> int:
        return round(v * 50000)

    return (
        f"G({c(gx)},{c(gy)})B({c(bx)},{c(by)})R({c(rx)},{c(ry)})WP({c(wx)},{c(wy)})"
        f"L({round(lmax * 10000)},{round(lmin * 10000)})"
    )


def pick_codec(requested: str | None, hdr: HdrInfo | None, suffix: str) -> str:
    """The codec to encode with: the caller's, checked against HDR input, or the container's default."""
    if hdr is not None:
        if requested not in (None, "h265", "ffv1"):
            raise BadOption(
                f"the input is HDR ({hdr.transfer}, BT.2020) and {requested} here cannot keep it HDR; "
                "leave the codec unset (10-bit HEVC) or choose h265 or ffv1"
            )
        if requested is None and suffix == ".webm":
            raise BadOption("HDR input cannot be kept HDR in WebM here (8-bit VP9): write .mp4 or .mkv")
        return requested or "h265"
    if requested:
        return requested
    return default_codec(suffix)
