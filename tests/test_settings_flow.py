"""Settings from one place, passed down: models/ and app/pipeline/ never read the environment themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

from app import create_app
from app.config import DecodeLimits, Limits, OutputLimits, Settings
from app.pipeline import limits

# Below the app: these packages get their values from whoever starts the process (the app factory).
NO_ENV_PACKAGES = ("models", "app/pipeline")
ENV_NAMES = ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv")


def environment_reads(source: str) -> list[int]:
    """Line numbers where ``source`` touches the environment (os.environ, os.getenv, from os import ...).

    An AST walk rather than import-linter: that sees imports only, and ``os`` is imported for paths too."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            lines.append(node.lineno)  # os.environ.get(...), os.getenv(...), os.environ[...]
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ENV_NAMES for alias in node.names):
                lines.append(node.lineno)  # from os import environ / getenv
    return sorted(lines)


def test_models_and_the_pipeline_never_read_the_environment():
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for package in NO_ENV_PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        for line in environment_reads(path.read_text())
    ]
    assert not found, "reads the environment (take the value from Settings, passed down): " + ", ".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import os\nx = os.environ.get('A')",
        "import os\nx = os.getenv('A')",
        "import os\nx = os.environ['A']",
        "from os import environ\nx = environ['A']",
        "from os import getenv as g\nx = g('A')",
    ],
)
def test_the_guard_sees_every_way_of_reading_the_environment(source):
    assert environment_reads(source)


def test_the_guard_passes_code_that_does_not():
    assert environment_reads("import os\nx = os.path.join('a', 'b')\ny = os.sep") == []


def test_limits_come_from_settings():
    env = {
        "ENHANCE_MAX_STREAMS": "4",
        "ENHANCE_MAX_INPUT_PIXELS": "76800",
        "ENHANCE_MAX_DURATION_SECONDS": "60",
        "ENHANCE_MAX_OUTPUT_PIXELS": "40000",
        "ENHANCE_MAX_FRAMES": "30",
    }
    assert Settings.from_env(env).limits == Limits(DecodeLimits(4, 76800, 60.0), OutputLimits(40000, 30))
    assert Settings.from_env({}).limits == Limits()  # unset: the documented defaults


def test_create_app_hands_the_limits_to_the_pipeline(tmp_path):
    """One source: the limits the HTTP probe uses (settings.limits) are the ones this process's jobs use."""
    app = create_app({"ENHANCE": {"data_dir": tmp_path, "max_streams": 5, "max_output_pixels": 1000}})
    settings = app.extensions["enhance"].settings
    assert limits.current() == settings.limits
    assert limits.current().decode.max_streams == 5 and limits.current().output.max_pixels == 1000


def test_without_an_app_the_library_uses_its_defaults(monkeypatch):
    """The environment alone changes nothing below the app (library use: defaults until configured)."""
    monkeypatch.setenv("ENHANCE_MAX_OUTPUT_PIXELS", "1000")
    monkeypatch.setenv("ENHANCE_MAX_STREAMS", "1")
    limits.configure(Limits())
    assert limits.current() == Limits()
    limits.check_output_size(1920, 1080, 10)  # under the 8K default, whatever the environment says


def test_a_weights_path_override_becomes_folders(tmp_path):
    settings = Settings.from_env({}).with_overrides({"weights_path": f"{tmp_path}:~/w"})
    assert settings.weights_path == (tmp_path, Path("~/w").expanduser())
