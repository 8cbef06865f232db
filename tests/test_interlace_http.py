"""The ``deinterlace`` form field over HTTP: the job document says what was found and what was done."""

from __future__ import annotations

import av
import pytest

from app import create_app
from app.jobs.runner import run_claimed_job
from tests.test_interlace import FIELDS, pan_frames, pytestmark, weave, write  # noqa: F401 - same skip


@pytest.fixture
def app_and_clip(tmp_path):
    app = create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data"}})
    clip = write(tmp_path / "i25.mp4", weave(pan_frames()), 25, flagged=True)
    return app, clip


def submit(app, clip, **fields):
    with open(clip, "rb") as fh:
        return app.test_client().post("/enhance", data={"file": (fh, "i25.mp4"), "model": "lut3d", **fields})


def run_job(app, job_id):
    svc = app.extensions["enhance"].get()
    claimed = svc.store.claim_next("test:1", job_id)
    return run_claimed_job(svc.store, svc.storage, *claimed, 0.1)


def test_field_mode_over_http_doubles_the_frames_and_says_so(app_and_clip):
    app, clip = app_and_clip
    r = submit(app, clip, deinterlace="field")
    assert r.status_code == 202, r.json
    doc = r.json
    assert doc["options"]["deinterlace"] == "field"
    assert doc["input"]["interlaced"] == {"parity": "tff", "detected_by": "flag"}
    assert doc["input"]["deinterlaced"] == {"mode": "field", "parity": "tff"}
    assert doc["progress"]["frames_total"] == FIELDS
    assert run_job(app, doc["id"]) == "succeeded"
    result = app.test_client().get(f"/jobs/{doc['id']}/result")
    assert result.status_code == 200
    path = app.extensions["enhance"].get().store.get(doc["id"]).result_path
    with av.open(path) as c:
        assert c.streams.video[0].frames == FIELDS
        assert float(c.streams.video[0].average_rate) == pytest.approx(50)


def test_default_is_auto_and_off_leaves_it_woven(app_and_clip):
    app, clip = app_and_clip
    auto = submit(app, clip).json
    assert auto["options"]["deinterlace"] == "auto"
    assert auto["input"]["deinterlaced"] == {"mode": "frame", "parity": "tff"}
    off = submit(app, clip, deinterlace="off").json
    assert off["input"]["interlaced"]["parity"] == "tff" and off["input"]["deinterlaced"] is None


def test_unknown_deinterlace_value_is_a_400_naming_the_field(app_and_clip):
    app, clip = app_and_clip
    r = submit(app, clip, deinterlace="sideways")
    assert r.status_code == 400 and "deinterlace" in r.json["detail"]
