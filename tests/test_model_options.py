"""Model options from one schema (HTTP form fields, ``--model-option``, ``GET /models``, OpenAPI), and
messages worded in the caller's own terms: form fields over HTTP, flags on the command line."""

from __future__ import annotations

import pytest

from app import create_app
from app.jobs.runner import run_claimed_job
from models.catalog import catalog
from models.errors import BadOption
from models.registry import chain_scale, validate_model_options
from tests.media import make_video, read_video
from tests.test_cli_enhance import flask


@pytest.fixture
def clip(tmp_path):
    return make_video(tmp_path / "clip.mp4", audio=None)


def make_app(tmp_path, **settings):
    return create_app({"TESTING": True, "ENHANCE": {"data_dir": tmp_path / "data", **settings}})


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


def submit(app, clip, **fields):
    with open(clip, "rb") as fh:
        return app.test_client().post("/enhance", data={"file": (fh, "clip.mp4"), **fields})


def run_job(app, job_id):
    svc = app.extensions["enhance"].get()
    claimed = svc.store.claim_next("test:1", job_id)
    return run_claimed_job(svc.store, svc.storage, *claimed, 0.1)


def problem(response, status):
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    return response.json["detail"]


# -- one validator for every caller ----------------------------------------------------------------
def test_validator_types_values_and_resolves_bare_and_qualified_names():
    assert validate_model_options("bicubic", {"scale": "2"}) == {"scale": 2.0}
    typed = validate_model_options("nlmeans+bicubic", {"nlmeans.strength": "5", "scale": 2})
    assert typed == {"nlmeans.strength": 5.0, "scale": 2.0}
    # a bare name sets every link that has it; a qualified one only that link
    assert chain_scale("bicubic+lanczos", {"scale": "2"}) == 4
    assert chain_scale("bicubic+lanczos", {"lanczos.scale": "0.5"}) == 2


@pytest.mark.parametrize(
    ("model", "raw", "words"),
    [
        ("bicubic", {"foo": "1"}, ["--model-option foo", "its options: scale"]),
        ("bicubic", {"scale": "20"}, ["--model-option scale", "from 0.125 to 8", "'20'"]),
        ("bicubic", {"scale": "x"}, ["--model-option scale", "a number"]),
        ("nlmeans", {"strength": "nan"}, ["--model-option strength", "from 1 to 50"]),
        ("bicubic", {"nlmeans.strength": "5"}, ["--model-option nlmeans.strength"]),
        ("realesr-animevideov3", {"scale": "2"}, ["--model-option scale", "takes no options"]),
        ("nlmeans+bicubic", {"x": "1"}, ["nlmeans.strength, bicubic.scale"]),
    ],
)
def test_validator_refuses_unknown_and_out_of_range_options_naming_them(model, raw, words):
    with pytest.raises(BadOption) as err:
        validate_model_options(model, raw)
    for word in words:
        assert word in err.value.detail, err.value.detail
    assert err.value.worded("http").startswith("form field ")


def test_catalog_lists_each_option_with_type_and_range():
    options = {m["name"]: m["options"] for m in catalog()}
    assert options["bicubic"]["scale"] == {
        "default": 4,
        "description": "resize factor",
        "type": "number",
        "minimum": 0.125,
        "maximum": 8,
    }
    assert options["nlmeans"]["strength"]["minimum"] == 1 and options["nlmeans"]["strength"]["maximum"] == 50
    assert options["realesr-general-x4v3"]["denoise_strength"]["maximum"] == 1


# -- over HTTP: every advertised option is a form field --------------------------------------------
def test_bicubic_scale_2_over_http_gives_a_2x_result(app, clip):
    r = submit(app, clip, model="bicubic", scale="2")
    assert r.status_code == 202, r.json
    doc = r.json
    assert doc["options"]["model_options"] == {"scale": 2.0}
    assert (doc["input"]["output_width"], doc["input"]["output_height"]) == (128, 96)
    assert run_job(app, doc["id"]) == "succeeded"
    path = app.extensions["enhance"].get().store.get(doc["id"]).result_path
    info = read_video(path)
    assert (info["width"], info["height"], info["frames"]) == (128, 96, 8)


def test_nlmeans_strength_over_http_is_accepted(app, clip):
    r = submit(app, clip, model="nlmeans", strength="5", frames="2")
    assert r.status_code == 202, r.json
    assert r.json["options"]["model_options"] == {"strength": 5.0}
    assert run_job(app, r.json["id"]) == "succeeded"


def test_qualified_option_over_http_sets_one_link(app, clip):
    r = submit(app, clip, model="nlmeans+bicubic", **{"nlmeans.strength": "5", "bicubic.scale": "2"})
    assert r.status_code == 202, r.json
    assert r.json["input"]["output_width"] == 128


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"model": "bicubic", "sharpness": "3"}, ["form field sharpness", "its options: scale"]),
        ({"model": "bicubic", "denoise_strength": "0.5"}, ["form field denoise_strength"]),
        ({"model": "bicubic", "scale": "20"}, ["form field scale", "from 0.125 to 8"]),
        ({"model": "nlmeans", "strength": "0"}, ["form field strength", "from 1 to 50"]),
        (
            {"model": "realesr-general-x4v3", "denoise_strength": "2"},
            ["form field denoise_strength", "0 to 1"],
        ),
    ],
)
def test_unknown_or_out_of_range_option_over_http_is_a_400_naming_it(app, clip, fields, words):
    detail = problem(submit(app, clip, **fields), 400)
    for word in words:
        assert word in detail, detail
    assert "--model-option" not in detail


def test_openapi_allows_the_model_option_fields(app):
    spec = app.test_client().get("/openapi.json").json
    option = spec["components"]["schemas"]["OptionInfo"]["properties"]
    assert {"default", "description", "type", "minimum", "maximum", "choices"} == set(option)
    form = spec["paths"]["/enhance"]["post"]["requestBody"]
    ref = form["content"]["multipart/form-data"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert schema["additionalProperties"]["type"] == "string"
    assert "GET /models" in schema["additionalProperties"]["description"]
    assert "denoise_strength" not in schema["properties"]  # a model option now, not a fixed field


# -- CRF follows the codec ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"crf": "60"}, ["form field crf", "between 0 and 51 for h264"]),
        ({"crf": "52", "codec": "h265"}, ["form field crf", "between 0 and 51 for h265"]),
        ({"crf": "10", "codec": "ffv1"}, ["form field crf", "does not apply to ffv1"]),
    ],
)
def test_crf_out_of_the_codecs_range_is_a_400_over_http(app, clip, fields, words):
    detail = problem(submit(app, clip, model="bicubic", scale="1", **fields), 400)
    for word in words:
        assert word in detail, detail


def test_crf_60_is_fine_for_vp9(app, clip):
    r = submit(app, clip, model="bicubic", scale="1", crf="60", codec="vp9")
    assert r.status_code == 202, r.json
    assert r.json["options"]["crf"] == 60


def test_crf_out_of_range_on_the_cli_exits_2_without_output(tmp_path, clip):
    out = tmp_path / "out.mp4"
    result = flask("enhance", str(clip), "-o", str(out), "--model", "bicubic", "--crf", "60")
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "--crf must be between 0 and 51 for h264" in last, result.stderr
    assert not out.exists()


def test_without_crf_h264_is_written_at_the_default_the_help_names(tmp_path, clip):
    # x264 writes its settings into the stream (an SEI message): the CRF it actually used is readable there
    written = {}
    for crf in (None, 20):
        out = tmp_path / f"out-{crf}.mp4"
        args = ["--crf", str(crf)] if crf is not None else []
        result = flask(
            "enhance", str(clip), "-o", str(out), "--model", "bicubic", "--model-option", "scale=1", *args
        )
        assert result.returncode == 0, result.stderr
        written[crf] = out.read_bytes()
    assert b"crf=16.0" in written[None] and b"crf=20.0" in written[20]
    help_text = flask("enhance", "--help").stdout
    assert "Default: h264 16, h265 20, vp9 31." in " ".join(help_text.split())


# -- the CLI: --model-option through the same validator ----------------------------------------------
def test_model_option_out_of_range_on_the_cli_exits_2_naming_the_flag(tmp_path, clip):
    out = tmp_path / "out.mp4"
    result = flask("enhance", str(clip), "-o", str(out), "--model", "bicubic", "--model-option", "scale=20")
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --model-option scale must be a number from 0.125 to 8"), result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    unknown = flask("enhance", str(clip), "-o", str(out), "--model", "bicubic", "--model-option", "foo=1")
    assert unknown.returncode == 2 and "--model-option foo is not an option of bicubic" in unknown.stderr


# -- messages in the caller's terms ------------------------------------------------------------------
def test_output_too_large_names_the_form_field_over_http_and_the_flag_on_the_cli(tmp_path, clip):
    app = make_app(tmp_path, max_output_pixels=40_000)
    detail = problem(submit(app, clip, model="bicubic"), 422)
    assert "form field outscale" in detail and "--outscale" not in detail
    result = flask(
        "enhance",
        str(clip),
        "-o",
        str(tmp_path / "o.mp4"),
        "--model",
        "bicubic",
        env={"ENHANCE_MAX_OUTPUT_PIXELS": "40000"},
    )
    assert result.returncode == 2 and "--outscale" in result.stderr


def test_unknown_model_over_http_offers_no_checkpoint_path(app, clip):
    detail = problem(submit(app, clip, model="nope"), 400)
    assert "unknown model 'nope'" in detail and "bicubic" in detail
    assert ".pth" not in detail


def test_noncommercial_model_over_http_names_the_operator_not_a_variable(app, clip):
    detail = problem(submit(app, clip, model="zero-dce"), 403)
    assert "non-commercial" in detail and "operator has not enabled" in detail
    assert "ENHANCE_ALLOW_NONCOMMERCIAL" not in detail


def test_result_of_an_unfinished_canceled_or_failed_job_says_which(app, clip):
    client = app.test_client()
    store = app.extensions["enhance"].get().store
    queued = submit(app, clip, model="bicubic", scale="1").json["id"]
    assert "not finished yet" in problem(client.get(f"/jobs/{queued}/result"), 409)

    assert client.delete(f"/jobs/{queued}").status_code == 204
    detail = problem(client.get(f"/jobs/{queued}/result"), 409)
    assert "canceled" in detail and "no result" in detail and "once it has succeeded" not in detail

    failed = submit(app, clip, model="bicubic", scale="1").json["id"]
    _, claim = store.claim_next("test:1", failed)
    store.fail(failed, claim, {"type": "output-error", "title": "Cannot write output", "detail": "disk full"})
    detail = problem(client.get(f"/jobs/{failed}/result"), 409)
    assert "failed" in detail and "disk full" in detail and "once it has succeeded" not in detail
