"""HDR10 in, HDR10 out: 10-bit HEVC with the PQ / BT.2020 tags and both kinds of HDR10 metadata kept."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from app import create_app
from app.jobs.runner import run_claimed_job
from app.pipeline import EnhanceOptions, enhance_file, probe
from models.errors import BadOption
from tests.test_cli_enhance import flask

MASTER = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
CLL = "1000,400"


@pytest.fixture(scope="module")
def hdr_clip(tmp_path_factory):
    """An 8-frame 10-bit HEVC clip tagged PQ / BT.2020 with mastering-display and content-light metadata."""
    path = tmp_path_factory.mktemp("hdr") / "hdr10.mp4"
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx265", rate=25)
        v.width, v.height, v.pix_fmt = 128, 96, "yuv420p10le"
        ctx = v.codec_context
        ctx.time_base = Fraction(1, 25)
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, 16, 9, 1
        v.options = {
            "x265-params": "log-level=error:hdr10=1:repeat-headers=1:colorprim=bt2020:transfer=smpte2084:"
            f"colormatrix=bt2020nc:master-display={MASTER}:max-cll={CLL}"
        }
        y, x = np.mgrid[0:96, 0:128]
        for i in range(8):
            rgb = np.stack([x * 500 + i * 900, y * 600, (x + y) * 250], axis=-1).clip(0, 65535)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint16), format="rgb48le")
            frame = frame.reformat(format="yuv420p10le", dst_colorspace=9)
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return path


def signalling(path) -> dict:
    """Codec, pixel format, colour tags and the first frame's HDR10 side data of a file."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        ctx = stream.codec_context
        frame = next(c.decode(stream))
        side = {s.type.name: bytes(s) for s in frame.side_data}
        return {
            "codec": ctx.name,
            "pix_fmt": ctx.pix_fmt,
            "tags": (ctx.color_trc, ctx.color_primaries, ctx.colorspace),
            "mastering": side.get("MASTERING_DISPLAY_METADATA"),
            "light": side.get("CONTENT_LIGHT_LEVEL"),
            "size": (ctx.width, ctx.height),
        }


def test_probe_reads_the_hdr10_metadata(hdr_clip):
    hdr = probe(str(hdr_clip)).hdr
    assert hdr.transfer == "smpte2084" and hdr.master_display == MASTER and hdr.max_cll == CLL


def test_hdr10_input_gives_10_bit_hevc_with_tags_and_metadata(hdr_clip, tmp_path):
    out = tmp_path / "out.mp4"
    enhance_file(hdr_clip, out, EnhanceOptions(model="bicubic", model_options={"scale": 2}))
    before, after = signalling(hdr_clip), signalling(out)
    assert (after["codec"], after["pix_fmt"], after["size"]) == ("hevc", "yuv420p10le", (256, 192))
    assert after["tags"] == (16, 9, 9)
    assert before["mastering"] is not None and after["mastering"] == before["mastering"]
    assert before["light"] is not None and after["light"] == before["light"]


def test_sdr_input_keeps_h264_by_default(tmp_path):
    from tests.media import make_video

    src = make_video(tmp_path / "sdr.mp4", frames=4)
    enhance_file(src, tmp_path / "o.mp4", EnhanceOptions(model="bicubic", model_options={"scale": 2}))
    assert probe(str(src)).hdr is None and signalling(tmp_path / "o.mp4")["codec"] == "h264"


def test_h264_for_hdr_input_is_refused_with_one_line(hdr_clip, tmp_path):
    with pytest.raises(BadOption, match="HDR"):
        enhance_file(hdr_clip, tmp_path / "x.mp4", EnhanceOptions(model="bicubic", codec="h264"))
    out = tmp_path / "cli.mp4"
    result = flask("enhance", str(hdr_clip), "-o", str(out), "--model", "bicubic", "--codec", "h264")
    assert result.returncode == 2 and not out.exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "h265" in result.stderr


def test_over_http_hdr10_input_with_no_codec_comes_back_hdr10_and_h264_is_a_400(hdr_clip, tmp_path):
    app = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}})

    def submit(**fields):
        with open(hdr_clip, "rb") as fh:
            data = {"file": (fh, "hdr10.mp4"), "model": "bicubic", "scale": "2", **fields}
            return app.test_client().post("/enhance", data=data)

    refused = submit(codec="h264")
    assert refused.status_code == 400 and "codec" in refused.json["detail"], refused.json
    r = submit()  # what the page sends when its codec menu is left on "Automatic"
    assert r.status_code == 202, r.json
    assert r.json["options"]["codec"] == "h265"
    svc = app.extensions["enhance"].get()
    assert (
        run_claimed_job(svc.store, svc.storage, *svc.store.claim_next("test:1", r.json["id"]), 0.1)
        == "succeeded"
    )
    before, after = signalling(hdr_clip), signalling(svc.store.get(r.json["id"]).result_path)
    assert (after["codec"], after["pix_fmt"], after["tags"]) == ("hevc", "yuv420p10le", (16, 9, 9))
    assert after["mastering"] == before["mastering"] and after["light"] == before["light"]
