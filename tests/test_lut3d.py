"""lut3d against an independent, literal re-statement of the official Image-Adaptive 3D-LUT code.

The official code needs its own C/CUDA extension, so the reference here restates it from the source:
the classifier as a plain ``nn.Sequential`` from the official layer list (checkpoint loaded strictly),
the blend ``pred[0] * LUT0 + pred[1] * LUT1 + pred[2] * LUT2`` of the evaluation script, and the CPU
kernel's index maths in NumPy (binsize 1.000001 / (dim - 1), floor/fmod, r fastest in [3, b, g, r]).
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import models.registry as registry
import models.specs as specs
import models.weights as weights
from models import lut3d
from models.errors import WeightsCorrupt, WeightsMissing
from tests.conftest import SHARED_MEDIA, SHARED_WEIGHTS, needs_shared

LUT_FILES = ("weights/lut3d/LUTs.pth", "weights/lut3d/classifier.pth")
FIVEK = "media/fivek_a1629.jpg"


# -- the literal reference -----------------------------------------------------------------------


def official_classifier() -> nn.Sequential:
    layers = [nn.Upsample(size=(256, 256), mode="bilinear"), nn.Conv2d(3, 16, 3, stride=2, padding=1)]
    layers += [nn.LeakyReLU(0.2), nn.InstanceNorm2d(16, affine=True)]
    for cin, cout, norm in ((16, 32, True), (32, 64, True), (64, 128, True), (128, 128, False)):
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        if norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
    layers += [nn.Dropout(p=0.5), nn.Conv2d(128, 3, 8, padding=0)]
    net = nn.Sequential(*layers)
    state = torch.load(SHARED_WEIGHTS / "lut3d/classifier.pth", map_location="cpu", weights_only=True)
    net.load_state_dict({k.removeprefix("model."): v for k, v in state.items()}, strict=True)
    return net.eval()


def official_luts() -> list[torch.Tensor]:
    state = torch.load(SHARED_WEIGHTS / "lut3d/LUTs.pth", map_location="cpu", weights_only=True)
    return [state[k]["LUT"] for k in ("0", "1", "2")]


def literal_trilinear(lut: np.ndarray, img: np.ndarray) -> np.ndarray:
    """TriLinearForwardCpu, vectorised over pixels: lut (3, d, d, d) flat [c][b][g][r], img (3, H, W)."""
    dim = lut.shape[-1]
    shift = dim**3
    binsize = np.float32(1.000001 / (dim - 1))
    flat = lut.astype(np.float32).reshape(-1)
    r, g, b = (c.reshape(-1).astype(np.float32) for c in img)
    r_id, g_id, b_id = (np.floor(v / binsize).astype(np.int64) for v in (r, g, b))
    r_d, g_d, b_d = (np.fmod(v, binsize) / binsize for v in (r, g, b))
    corners = []
    for db in (0, 1):
        for dg in (0, 1):
            for dr in (0, 1):
                index = (r_id + dr) + (g_id + dg) * dim + (b_id + db) * dim * dim
                weight = (r_d if dr else 1 - r_d) * (g_d if dg else 1 - g_d) * (b_d if db else 1 - b_d)
                corners.append((index, weight))
    out = np.zeros((3, r.size), np.float32)
    for c in range(3):
        for index, weight in corners:
            out[c] += weight * flat[index + shift * c]
    return out.reshape(img.shape)


def official_enhance(img: torch.Tensor) -> np.ndarray:
    """The evaluation script's generator() for one image (1, 3, H, W) -> (3, H, W) float."""
    with torch.no_grad():
        pred = official_classifier()(img).squeeze()
    lut0, lut1, lut2 = official_luts()
    lut = pred[0] * lut0 + pred[1] * lut1 + pred[2] * lut2
    return literal_trilinear(lut.numpy(), img[0].numpy())


# -- helpers -------------------------------------------------------------------------------------


def load_rgb(name: str, size: tuple[int, int] | None = None) -> torch.Tensor:
    """An image from ../shared/media as (1, 3, H, W) float in [0, 1], like torchvision's to_tensor."""
    im = Image.open(SHARED_MEDIA / name).convert("RGB")
    if size is not None:
        im = im.resize(size, Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)


def to_uint8(x) -> np.ndarray:
    """As the official save: x * 255 + 0.5, clamped, truncated."""
    x = x.detach().float().numpy() if isinstance(x, torch.Tensor) else x
    return np.clip(np.floor(x * 255 + 0.5), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def identity_lut(dim: int = 33) -> torch.Tensor:
    """LUT[c, b, g, r] = (r, g, b)[c] / (dim - 1)."""
    axis = torch.linspace(0, 1, dim)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b])


@pytest.fixture
def load(monkeypatch):
    """load_enhancer("lut3d", ...) with only this family imported, so sibling modules cannot interfere."""
    monkeypatch.setattr(specs, "_FAMILY_MODULES", ("lut3d",))
    monkeypatch.setattr(specs, "_loaded_families", False)

    def _load(precision: str = "fp32"):
        return registry.load_enhancer("lut3d", device="cpu", precision=precision)

    return _load


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [lut3d.BLOCK_PIXELS, 7])  # 7: many short runs and a remainder
def test_lookup_matches_literal_kernel_on_random_lut(monkeypatch, block):
    monkeypatch.setattr(lut3d, "BLOCK_PIXELS", block)
    gen = torch.Generator().manual_seed(0)
    lut = torch.rand(3, 33, 33, 33, generator=gen)
    x = torch.rand(1, 3, 61, 47, generator=gen)
    x[0, :, 0, :6] = torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 1 / 255]).view(1, 6)  # cell edges and ends
    ours = lut3d.trilinear(lut, x)[0].numpy()
    ref = literal_trilinear(lut.numpy(), x[0].numpy())
    # fp32 texture coordinates are good to ~1e-4 LUT cells; a random LUT is the worst case for that
    assert np.abs(ours - ref).max() < 3e-4


@needs_shared(*LUT_FILES, FIVEK)
def test_matches_official_implementation_on_fivek(load):
    img = load_rgb("fivek_a1629.jpg")  # full 1620x1080
    ours = load("fp32").process(img)[0]
    ref = official_enhance(img)
    assert ours.shape == img.shape[1:]
    assert psnr(to_uint8(ours), to_uint8(ref)) >= 40
    assert psnr(to_uint8(ours), to_uint8(img[0])) < 35  # and it did change the picture


@needs_shared(*LUT_FILES, FIVEK)
def test_classifier_matches_official_layer_list(load):
    img = load_rgb("fivek_a1629.jpg", (405, 270))
    with torch.no_grad():
        ref = official_classifier()(img).flatten(1)
    ours = load("fp32").weights(img)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_identity_lut_leaves_the_image_unchanged():
    img = load_rgb("fivek_a1629.jpg", (320, 213)) if (SHARED_MEDIA / "fivek_a1629.jpg").exists() else None
    if img is None:
        img = torch.rand(1, 3, 213, 320, generator=torch.Generator().manual_seed(1))
    # a classifier that always answers (1, 0, 0) picks LUT "0" = identity
    classifier = lut3d.Classifier()
    last = classifier.model[-1]
    nn.init.zeros_(last.weight)
    last.bias.data = torch.tensor([1.0, 0.0, 0.0])
    luts = torch.stack([identity_lut(), torch.rand(3, 33, 33, 33), torch.rand(3, 33, 33, 33)])
    info = lut3d.EnhancerInfo(name="lut3d", task="colour", scale=1, licence=lut3d.LICENCE)
    enhancer = lut3d.LUT3DEnhancer(info, torch.device("cpu"), classifier.eval(), luts)
    out = enhancer.process(img)
    assert psnr(to_uint8(out), to_uint8(img)) >= 45


@needs_shared(*LUT_FILES, FIVEK, "media/lowlight_dicm01.jpg")
def test_each_frame_of_a_batch_gets_its_own_lut(load):
    enhancer = load("fp32")
    a = load_rgb("fivek_a1629.jpg", (240, 160))
    b = load_rgb("lowlight_dicm01.jpg", (240, 160))
    batch = torch.cat([a, b])
    w = enhancer.weights(batch)
    assert (w[0] - w[1]).abs().max() > 0.05  # the two frames really ask for different LUTs
    together = enhancer.process(batch)
    one_by_one = torch.cat([enhancer.process(a), enhancer.process(b)])
    torch.testing.assert_close(together, one_by_one, rtol=0, atol=1e-5)
    torch.testing.assert_close(together[1:], enhancer.process(b), rtol=0, atol=1e-5)


@needs_shared(*LUT_FILES)
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (3, 3, 64, 65), (2, 3, 1, 7), (1, 3, 720, 1280)])
def test_output_shape_equals_input(load, shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(2))
    out = load("fp32").process(x)
    assert out.shape == x.shape
    assert out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@needs_shared(*LUT_FILES)
def test_channels_last_frames_as_the_pipeline_makes_them(load):
    gen = torch.Generator().manual_seed(3)
    frames = torch.randint(0, 256, (2, 45, 64, 3), dtype=torch.uint8, generator=gen)
    x = frames.permute(0, 3, 1, 2).float().div_(255)  # NCHW shape, NHWC memory
    enhancer = load("fp32")
    torch.testing.assert_close(enhancer.process(x), enhancer.process(x.contiguous()), rtol=0, atol=1e-6)


@needs_shared(*LUT_FILES, FIVEK)
def test_bf16_request_is_close_to_fp32(load):
    img = load_rgb("fivek_a1629.jpg", (320, 213))
    fp32 = load("fp32").process(img)
    bf16 = load("bf16")
    assert psnr(to_uint8(bf16.process(img)), to_uint8(fp32)) >= 50
    # a bf16 frame (from a bf16 link in a chain) is upcast; only its own rounding remains
    assert psnr(to_uint8(bf16.process(img.bfloat16())), to_uint8(fp32)) >= 40


def test_weights_missing_names_the_file(tmp_path, monkeypatch):
    weights.set_search_path([tmp_path])
    monkeypatch.setattr(weights, "REPO_WEIGHTS_DIR", tmp_path / "absent")
    spec = specs._SPECS["lut3d"]
    with pytest.raises(WeightsMissing, match="lut3d/LUTs.pth"):
        lut3d.build(spec, torch.device("cpu"), torch.float32, 0)
    if (SHARED_WEIGHTS / "lut3d/LUTs.pth").exists():
        (tmp_path / "lut3d").mkdir()
        shutil.copy(SHARED_WEIGHTS / "lut3d/LUTs.pth", tmp_path / "lut3d/LUTs.pth")
        with pytest.raises(WeightsMissing, match="lut3d/classifier.pth") as err:
            lut3d.build(spec, torch.device("cpu"), torch.float32, 0)
        assert "flask weights download lut3d" in err.value.detail


def test_unreadable_weights_are_corrupt(tmp_path, monkeypatch):
    weights.set_search_path([tmp_path])
    monkeypatch.setattr(weights, "REPO_WEIGHTS_DIR", tmp_path / "absent")
    (tmp_path / "lut3d").mkdir()
    (tmp_path / "lut3d/LUTs.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "lut3d/classifier.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsCorrupt, match="LUTs.pth"):
        lut3d.build(specs._SPECS["lut3d"], torch.device("cpu"), torch.float32, 0)


def test_spec():
    spec = specs._SPECS["lut3d"]
    assert (spec.task, spec.scale, spec.licence) == ("colour", 1, "Apache-2.0")
    assert spec.weights == ("lut3d/LUTs.pth", "lut3d/classifier.pth")
    assert not spec.noncommercial
    assert lut3d.LUT3DEnhancer.tileable is False


@pytest.mark.skipif(
    any(importlib.util.find_spec(f"models.{m}") is None for m in specs._FAMILY_MODULES),
    reason="not every family module exists yet",
)
@needs_shared(*LUT_FILES)
def test_through_the_full_registry():
    import models

    enhancer = models.load_enhancer("lut3d", device="cpu", precision="fp32")
    assert isinstance(enhancer, lut3d.LUT3DEnhancer)
    assert models.get_spec("lut3d").task == "colour"
