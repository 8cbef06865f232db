"""TemporalFix against the original network: vs-temporalfix 2.4.1's own ``temporalfix_arch.py``.

The reference is read out of the vs-temporalfix 2.4.1 wheel from PyPI (fetched once per session into
``.venv/cache/``, git-ignored; the package itself needs Python >= 3.12 and VapourSynth, so only the
architecture file is imported). Both networks get the official s2 weights and the same 7-frame window of
real frames (a pan over a FiveK photo with per-frame noise, i.e. a full window with real motion).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from models import temporalfix as tf
from models import weights
from models.download import OK, check_file
from models.errors import BadOption, UnsupportedInput, WeightsMissing
from tests.conftest import REPO, SHARED_MEDIA, SHARED_WEIGHTS, needs_shared

WHEEL = "vs_temporalfix-2.4.1-py3-none-any.whl"
ARCH_MEMBER = "vs_temporalfix/models/temporalfix_arch.py"
FIVEK = "media/fivek_a1629.jpg"
FILES = tuple(f"weights/{p}" for p in tf.STRENGTH_FILES.values())
pytestmark = needs_shared(*FILES, FIVEK)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two [0, 1] tensors (inf when identical)."""
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.fixture(scope="session")
def reference_arch(tmp_path_factory):
    """The original ``temporalfix_arch`` module, imported from the vs-temporalfix 2.4.1 wheel."""
    cache = REPO / ".venv" / "cache" / "vs-temporalfix"
    wheel = cache / WHEEL
    if not wheel.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "vs-temporalfix==2.4.1", "--no-deps"]
        cmd += ["--python-version", "3.12", "--only-binary=:all:", "-d", str(cache), "-q"]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot fetch the vs-temporalfix 2.4.1 wheel from PyPI (the reference): {exc}")
    source = tmp_path_factory.mktemp("vstf") / "temporalfix_arch.py"
    with zipfile.ZipFile(wheel) as zf:
        source.write_bytes(zf.read(ARCH_MEMBER))
    spec = importlib.util.spec_from_file_location("vstf_temporalfix_arch", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_net(arch, state: dict) -> torch.nn.Module:
    """The original network with its default arguments (as the README states), ``state`` loaded strictly."""
    net = arch.temporalfix_arch()
    net.load_state_dict(state, strict=True)
    return net.eval()


def official_state(strength: int) -> dict:
    """The official state dict for an integer strength."""
    return torch.load(SHARED_WEIGHTS / tf.STRENGTH_FILES[strength], map_location="cpu", weights_only=True)


def pan_window(width: int, height: int, batch: int = 1) -> torch.Tensor:
    """(batch, 7, 3, H, W): crops of the photo moving by (5, 3) px a frame, with fresh noise per frame."""
    img = Image.open(SHARED_MEDIA / "fivek_a1629.jpg").convert("RGB")
    img = img.resize((img.width // 4, img.height // 4), Image.BICUBIC)
    photo = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
    gen = torch.Generator().manual_seed(12)
    windows = []
    for b in range(batch):
        frames = [
            photo[:, 10 + 3 * i + b : 10 + 3 * i + b + height, 20 + 5 * i : 20 + 5 * i + width]
            for i in range(7)
        ]
        x = torch.stack(frames)
        windows.append((x + 0.02 * torch.randn(x.shape, generator=gen)).clamp(0, 1))
    return torch.stack(windows)


@pytest.fixture(scope="module")
def s2():
    """Our network with the official s2 weights, fp32."""
    return tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", 2.0)


# -- loading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("strength", [0, 1, 2, 3])
def test_every_official_file_loads_strictly(strength):
    net = tf.TemporalFix()
    result = net.load_state_dict(official_state(strength), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_manifest_lists_the_four_files_with_their_checksums():
    for path in tf.STRENGTH_FILES.values():
        entry = weights.MANIFEST[path]
        assert entry.licence == "Apache-2.0"
        assert check_file(entry, SHARED_WEIGHTS / path).status == OK, path


def test_weights_come_from_the_project_lookup(monkeypatch, tmp_path):
    model = tf.load_temporalfix(None, 2)  # the search path is ../shared/weights (conftest)
    assert torch.equal(model.state_dict()["encode.cnn0.weight"], official_state(2)["encode.cnn0.weight"])
    weights.set_search_path([tmp_path])
    monkeypatch.setattr(weights, "REPO_WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsMissing, match="temporalfix/temporalfix_s2_v1.pth"):
        tf.load_temporalfix(None, 2)


# -- fidelity to the original network --------------------------------------------------------------


@pytest.mark.parametrize("size", [(128, 96), (100, 75), (101, 77)], ids=["128x96", "100x75", "101x77-odd"])
def test_fp32_matches_the_original_network(reference_arch, s2, size):
    window = pan_window(*size)
    with torch.inference_mode():
        expected = reference_net(reference_arch, official_state(2))(window)
    ours = tf.temporalfix_frame(s2, window)
    assert ours.shape == expected.shape == (1, 3, size[1], size[0])
    assert psnr(ours, expected.clamp(0, 1)) >= 40.0  # the acceptance line
    # in fact the same function: only fp32 rounding differs (a missing blur or gate would show here)
    assert (ours - expected.clamp(0, 1)).abs().max() <= 1e-4
    # and it really filtered: the output is not just the centre frame
    assert psnr(ours, window[:, tf.CENTER]) < 60.0


def test_fractional_strength_blends_the_neighbouring_weights(reference_arch, s2):
    window = pan_window(64, 48)
    at2 = tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", 2.0)
    at3 = tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", 3.0)
    half = tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", 2.5)
    # 2.0 is the s2 file exactly
    assert all(torch.equal(v, official_state(2)[k]) for k, v in at2.state_dict().items())
    assert torch.equal(tf.temporalfix_frame(at2, window), tf.temporalfix_frame(s2, window))
    # 2.5 is the original's blend of the parameters (not of the outputs)
    lo, hi = official_state(2), official_state(3)
    blended = {k: torch.lerp(lo[k], hi[k], 0.5) for k in lo}
    with torch.inference_mode():
        expected = reference_net(reference_arch, blended)(window).clamp(0, 1)
    out2, out3, out25 = (tf.temporalfix_frame(m, window) for m in (at2, at3, half))
    assert psnr(out25, expected) >= 40.0
    # ... and its output lies between the two strengths' outputs
    span = (out3 - out2).abs().mean()
    assert 0 < (out25 - out2).abs().mean() < span and 0 < (out25 - out3).abs().mean() < span


def test_strength_zero_is_off_and_bad_strengths_are_refused():
    window = pan_window(32, 24)
    off = tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", 0)
    assert torch.equal(tf.temporalfix_frame(off, window), window[:, tf.CENTER])
    for bad in (-0.5, 3.01, float("nan"), "strong"):
        with pytest.raises(BadOption, match="strength"):
            tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", bad)


# -- the enhancer-facing call ----------------------------------------------------------------------


def test_output_shape_batch_and_range(s2):
    window = pan_window(40, 30, batch=2)
    out = tf.temporalfix_frame(s2, window)
    assert out.shape == (2, 3, 30, 40) and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # each window in the batch gives what it gives alone
    assert torch.allclose(out[1:], tf.temporalfix_frame(s2, window[1:]), atol=1e-5)


def test_a_wrong_window_is_refused(s2):
    with pytest.raises(UnsupportedInput, match="7, 3, H, W"):
        tf.temporalfix_frame(s2, torch.zeros(1, 5, 3, 16, 16))


def test_bf16_stays_close_to_fp32(s2):
    window = pan_window(64, 48)
    bf16 = tf.load_temporalfix(SHARED_WEIGHTS / "temporalfix", 2.0, dtype=torch.bfloat16)
    assert psnr(tf.temporalfix_frame(bf16, window), tf.temporalfix_frame(s2, window)) >= 35.0


def test_window_indices_mirror_at_the_ends():
    assert tf.window_indices(0, 10) == [3, 2, 1, 0, 1, 2, 3]
    assert tf.window_indices(5, 10) == [2, 3, 4, 5, 6, 7, 8]
    assert tf.window_indices(9, 10) == [6, 7, 8, 9, 8, 7, 6]
