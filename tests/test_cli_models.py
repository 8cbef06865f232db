"""``flask models``, ``flask models --json`` and ``flask weights verify`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import REPO, SHARED_WEIGHTS, needs_shared

from app import create_app
from models import registry, weights
from models.catalog import catalog

FLASK = REPO / ".venv" / "bin" / "flask"
COMMANDS = {
    "table": ["models"],
    "json": ["models", "--json"],
    "verify": ["weights", "verify"],
}

pytestmark = needs_shared("weights/realesr-animevideov3.pth", "weights/lut3d/LUTs.pth")


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess]:
    """Run the three commands once, side by side: each pays the torch import, so in parallel they are fast."""
    if not FLASK.exists():
        pytest.skip(f"{FLASK} is missing: run ./test.sh to create the virtual environment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENHANCE_")}
    env["ENHANCE_WEIGHTS_PATH"] = str(SHARED_WEIGHTS)
    procs = {
        key: subprocess.Popen(
            [str(FLASK), *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for key, args in COMMANDS.items()
    }
    done = {}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        done[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def _line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.split(" ", 1)[0] == name)


def test_models_table(runs):
    run = runs["table"]
    assert run.returncode == 0, run.stderr
    assert _line(run.stdout, "lut3d").endswith("ready")
    assert _line(run.stdout, "realesr-animevideov3").endswith("ready")
    assert _line(run.stdout, "realesrgan-x4plus").endswith("flask weights download realesrgan-x4plus")
    assert "NC: refused" in _line(run.stdout, "zero-dce")
    assert str(SHARED_WEIGHTS) in run.stdout  # where weights are looked for


def test_models_json(runs):
    run = runs["json"]
    assert run.returncode == 0, run.stderr
    entries = {e["name"]: e for e in json.loads(run.stdout)}
    for name in ("lut3d", "realesr-animevideov3", "zero-dce", "bicubic"):
        assert entries[name]["ready"] and entries[name]["fetch"] is None, name
    x4 = entries["realesrgan-x4plus"]
    assert not x4["ready"]
    assert x4["fetch"] == "flask weights download realesrgan-x4plus"
    assert x4["weights"] == ["RealESRGAN_x4plus.pth"]
    assert (x4["task"], x4["scale"], x4["licence"]) == ("upscale", 4, "BSD-3-Clause")
    assert entries["lut3d"]["weights"] == ["lut3d/LUTs.pth", "lut3d/classifier.pth"]
    assert entries["zero-dce"]["noncommercial"] and not entries["zero-dce"]["allowed"]
    assert entries["realesr-animevideov3"]["allowed"] and not entries["realesr-animevideov3"]["noncommercial"]
    assert {"mirnetv2-denoise", "realesrgan-x2plus", "realesr-general-x4v3", "lanczos"} <= set(entries)


def test_weights_verify(runs):
    run = runs["verify"]
    assert run.returncode == 0, run.stderr
    for path in (
        "realesr-animevideov3.pth",
        "lut3d/LUTs.pth",
        "lut3d/classifier.pth",
        "zero-dce/Epoch99.pth",
    ):
        assert any(line.startswith("ok") and f" {path} " in line for line in run.stdout.splitlines()), path
    assert any(
        line.startswith("missing") and "RealESRGAN_x4plus.pth" in line for line in run.stdout.splitlines()
    )


def test_catalog_follows_the_licence_opt_in():
    registry.set_allow_noncommercial(True)
    assert {e["name"]: e["allowed"] for e in catalog()}["zero-dce"] is True
    registry.set_allow_noncommercial(False)
    assert {e["name"]: e["allowed"] for e in catalog()}["zero-dce"] is False


def test_the_licence_opt_in_reaches_the_registry_through_settings(monkeypatch, tmp_path):
    """ENHANCE_ALLOW_NONCOMMERCIAL: parsed by Settings, handed to models/ by create_app, never read there."""
    monkeypatch.setenv("ENHANCE_ALLOW_NONCOMMERCIAL", "1")
    assert {e["name"]: e["allowed"] for e in catalog()}["zero-dce"] is False  # the env alone: nothing
    create_app({"ENHANCE": {"data_dir": tmp_path}})
    assert {e["name"]: e["allowed"] for e in catalog()}["zero-dce"] is True
    create_app({"ENHANCE": {"data_dir": tmp_path, "allow_noncommercial": False}})
    assert {e["name"]: e["allowed"] for e in catalog()}["zero-dce"] is False


def test_catalog_readiness_follows_the_search_path(monkeypatch, tmp_path):
    weights.set_search_path([tmp_path])
    monkeypatch.setattr("models.weights.REPO_WEIGHTS_DIR", tmp_path / "none")
    entries = {e["name"]: e for e in catalog()}
    assert not entries["lut3d"]["ready"] and entries["lut3d"]["fetch"] == "flask weights download lut3d"
    assert entries["bicubic"]["ready"]  # nothing to fetch
    json.dumps(list(entries.values()))  # what GET /models will serialise


def test_models_says_when_the_default_model_has_no_weights(monkeypatch, tmp_path):
    """A newcomer without weights learns which command makes the default model usable; the command takes
    the default model and the weights path from the app's Settings."""
    if (REPO / "weights" / "lut3d").exists():
        pytest.skip("this checkout's own weights/ folder has lut3d")
    monkeypatch.setenv("ENHANCE_DEFAULT_MODEL", "lut3d")
    monkeypatch.setenv("ENHANCE_WEIGHTS_PATH", str(tmp_path))
    missing = create_app({"ENHANCE": {"data_dir": tmp_path}}).test_cli_runner().invoke(args=["models"])
    assert missing.exit_code == 0, missing.output
    assert "The default model lut3d has no weights here: run `flask weights download lut3d`" in missing.output
    assert str(tmp_path) in missing.output  # the search path the app handed down
    app = create_app({"ENHANCE": {"data_dir": tmp_path, "weights_path": [SHARED_WEIGHTS]}})
    ready = app.test_cli_runner().invoke(args=["models"])
    assert ready.exit_code == 0 and "has no weights here" not in ready.output


def test_catalog_marks_the_temporal_stages_with_their_window():
    by_name = {entry["name"]: entry for entry in catalog()}
    assert by_name["stabilize"]["task"] == by_name["temporalfix"]["task"] == "temporal"
    assert by_name["stabilize"]["window"] == [1, 0] and by_name["temporalfix"]["window"] == [3, 3]
    assert all("flicker" in by_name[name]["description"] for name in ("stabilize", "temporalfix"))
    assert by_name["realesr-animevideov3"]["window"] is None
