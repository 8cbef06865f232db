"""MIRNetv2 enhancers, on randomly initialised checkpoints saved in the official layout."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from PIL import Image
from spandrel_extra_arches.architectures.MIRNet2 import MIRNet2

from models import Enhancer, load_enhancer, registry
from models import mirnet as mirnet_module
from models import weights as weights_module
from models.errors import LicenceNotAccepted, WeightsCorrupt, WeightsMissing

LICENCE = "Academic Public License (non-commercial)"
SAME_SIZE = {"mirnetv2-denoise": "denoise", "mirnetv2-lowlight": "low-light", "mirnetv2-enhance": "enhance"}
SR = {"mirnetv2-sr-x2": 2, "mirnetv2-sr-x3": 3, "mirnetv2-sr-x4": 4}
FILES = ("real_denoising", "enhancement_lol", "enhancement_fivek", "sr_x2", "sr_x3", "sr_x4")
# The hyper-parameters of every official Options/*.yml (n_RRG 4 is fixed in the arch).
OFFICIAL = {"n_feat": 80, "chan_factor": 1.5, "n_MRB": 2, "bias": False}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return 10 * math.log10(1 / max(mse, 1e-20))


pytestmark = pytest.mark.usefixtures("fresh_registry")


@pytest.fixture(scope="session")
def random_net() -> MIRNet2:
    torch.manual_seed(0)
    return MIRNet2(**OFFICIAL).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory, random_net):
    """A weights folder holding the random network under all six manifest paths, saved as the releases are."""
    root = tmp_path_factory.mktemp("weights")
    (root / "mirnetv2").mkdir()
    first = root / "mirnetv2" / f"{FILES[0]}.pth"
    torch.save({"params": random_net.state_dict()}, first)
    for name in FILES[1:]:
        os.link(first, root / "mirnetv2" / f"{name}.pth")  # one 23 MB write instead of six
    return root


@pytest.fixture
def opted_in(weights_dir):
    weights_module.set_search_path([weights_dir])
    registry.set_allow_noncommercial(True)
    return weights_dir


def _frame(h: int, w: int, seed: int = 1) -> torch.Tensor:
    """A smooth-ish test frame in [0, 1] (random noise would make every method look alike)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, max(2, h // 4), max(2, w // 4), generator=g)
    return torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


# -- registry, licence, weights ---------------------------------------------------------------------


def test_all_six_models_are_registered_with_manifest_weights():
    for name, task in SAME_SIZE.items():
        spec = registry.get_spec(name)
        assert (spec.task, spec.scale) == (task, 1.0)
    for name, scale in SR.items():
        spec = registry.get_spec(name)
        assert (spec.task, spec.scale) == ("upscale", float(scale))
    for name in (*SAME_SIZE, *SR):
        spec = registry.get_spec(name)
        assert spec.noncommercial and spec.licence == LICENCE
        assert spec.weights[0] in weights_module.MANIFEST
        assert weights_module.MANIFEST[spec.weights[0]].licence == LICENCE


def test_refused_without_licence_opt_in(opted_in):
    registry.set_allow_noncommercial(False)
    with pytest.raises(LicenceNotAccepted) as err:
        load_enhancer("mirnetv2-denoise", device="cpu", precision="fp32")
    msg = str(err.value)
    assert "mirnetv2-denoise" in msg and "non-commercial" in msg and "ENHANCE_ALLOW_NONCOMMERCIAL=1" in msg
    assert LICENCE in msg
    with pytest.raises(LicenceNotAccepted):
        registry.chain_scale("mirnetv2-sr-x4")


def test_accepted_with_opt_in(opted_in):
    enhancer = load_enhancer("mirnetv2-denoise", device="cpu", precision="fp32")
    assert enhancer.info.noncommercial and enhancer.info.licence == LICENCE
    assert registry.chain_scale("mirnetv2-sr-x4") == 4


def test_missing_weights_name_the_file_and_the_fix(monkeypatch, tmp_path):
    registry.set_allow_noncommercial(True)
    weights_module.set_search_path([tmp_path])
    monkeypatch.setattr(weights_module, "REPO_WEIGHTS_DIR", tmp_path / "repo-weights")
    with pytest.raises(WeightsMissing) as err:
        load_enhancer("mirnetv2-sr-x3", device="cpu", precision="fp32")
    assert "mirnetv2/sr_x3.pth" in str(err.value)
    assert "flask weights download mirnetv2-sr-x3" in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b"not a checkpoint at all", {"params": {"conv_in.weight": torch.zeros(80, 3, 3, 3)}}],
    ids=["garbage", "other-network"],
)
def test_unusable_checkpoint_is_weights_corrupt(tmp_path, content):
    (tmp_path / "mirnetv2").mkdir()
    path = tmp_path / "mirnetv2" / "real_denoising.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    registry.set_allow_noncommercial(True)
    weights_module.set_search_path([tmp_path])
    with pytest.raises(WeightsCorrupt) as err:
        load_enhancer("mirnetv2-denoise", device="cpu", precision="fp32")
    assert "flask weights download mirnetv2-denoise" in str(err.value)


# -- same-size models ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SAME_SIZE))
def test_same_size_models_run_the_checkpoint(opted_in, random_net, name):
    enhancer = load_enhancer(name, device="cpu", precision="fp32")
    assert enhancer.scale == 1 and enhancer.info.task == SAME_SIZE[name]
    assert next(enhancer.net.parameters()).dtype == torch.float32 and not enhancer.net.training
    x = _frame(16, 32)
    out = enhancer.process(x)
    assert out.shape == x.shape
    with torch.inference_mode():
        expected = random_net(x).clamp(0, 1)
    assert psnr(out, expected) > 60  # the weights really were loaded, and nothing else was added


def test_odd_sizes_are_padded_to_a_multiple_of_4_and_cropped(opted_in):
    enhancer = load_enhancer("mirnetv2-lowlight", device="cpu", precision="fp32")
    assert enhancer.size_multiple == 4
    out = enhancer.process(_frame(29, 38))
    assert out.shape == (1, 3, 29, 38)


def test_tiled_matches_whole_frame(opted_in):
    whole = load_enhancer("mirnetv2-denoise", device="cpu", precision="fp32")
    tiled = load_enhancer("mirnetv2-denoise", device="cpu", precision="fp32", tile=32)
    # One row of 32-wide tiles with 32 pixels of context each side: the outer tiles do not see the
    # whole frame, so the check is not vacuous.
    x = _frame(16, 128)
    assert x.shape[-1] > tiled.tile + 2 * tiled.tile_pad
    assert psnr(tiled.process(x), whole.process(x)) >= 40


def test_tile_sizes_stay_on_the_pooling_grid(opted_in):
    # Tiles off the network's 4:1 pooling grid see different features (about 30 dB instead of 80 dB).
    assert load_enhancer("mirnetv2-denoise", device="cpu", precision="fp32", tile=30).tile == 28
    assert load_enhancer("mirnetv2-sr-x2", device="cpu", precision="fp32", tile=31).tile == 30
    assert load_enhancer("mirnetv2-sr-x4", device="cpu", precision="fp32", tile=31).tile == 31
    assert mirnet_module.TILE_PAD % mirnet_module.NET_MULTIPLE == 0


def test_fp16_falls_back_where_the_arch_does_not_support_it():
    cpu = torch.device("cpu")
    assert mirnet_module._negotiate_dtype(torch.float16, cpu, supports_half=False) == torch.float32
    assert mirnet_module._negotiate_dtype(torch.float16, cpu, supports_half=True) == torch.float16
    assert mirnet_module._negotiate_dtype(torch.bfloat16, cpu, supports_half=False) == torch.bfloat16


# -- super-resolution models --------------------------------------------------------------------------


def _pil_bicubic(x: torch.Tensor, scale: int) -> np.ndarray:
    """PIL's bicubic (Keys a = -0.5, like MATLAB's) per channel, as an independent reference."""
    h, w = x.shape[-2:]
    planes = [
        np.asarray(Image.fromarray(c.numpy().astype(np.float32), mode="F").resize((w * scale, h * scale), 3))
        for c in x[0]
    ]
    return np.stack(planes)[None]


def test_cubic_upsample_matches_pil_bicubic_inside_the_frame():
    x = _frame(13, 17).double()
    ours = mirnet_module.cubic_upsample(x, 3).numpy()
    ref = _pil_bicubic(x.float(), 3)
    # PIL renormalises its kernel at the borders, we replicate edge pixels: compare away from them.
    assert np.abs(ours - ref)[..., 6:-6, 6:-6].max() < 1e-5


@pytest.mark.parametrize("name", list(SR))
def test_sr_models_resize_first_then_restore(opted_in, name):
    scale = SR[name]
    enhancer = load_enhancer(name, device="cpu", precision="fp32")
    assert enhancer.scale == scale and enhancer.output_size(12, 10) == (12 * scale, 10 * scale)
    assert enhancer.auto_tile_pixels * scale**2 <= Enhancer.auto_tile_pixels  # tiles counted after the resize
    x = _frame(10, 12)
    out = enhancer.process(x)
    assert out.shape == (1, 3, 10 * scale, 12 * scale)
    # With its last conv zeroed the network is the identity (out = conv_out(...) + input), so what is
    # left is the pre-resize itself: it must be the bicubic upsampling of the frame.
    with torch.no_grad():
        enhancer.net.conv_out.weight.zero_()
    resized = enhancer.process(x).numpy()
    ref = np.clip(_pil_bicubic(x, scale), 0, 1)
    m = 2 * scale
    assert np.abs(resized - ref)[..., m:-m, m:-m].max() < 1e-4


def test_sr_tiled_matches_whole_frame(opted_in):
    whole = load_enhancer("mirnetv2-sr-x2", device="cpu", precision="fp32")
    tiled = load_enhancer("mirnetv2-sr-x2", device="cpu", precision="fp32", tile=32)
    x = _frame(8, 100)
    assert x.shape[-1] > tiled.tile + 2 * tiled.tile_pad
    a, b = tiled.process(x), whole.process(x)
    assert a.shape == b.shape == (1, 3, 16, 200)
    assert psnr(a, b) >= 40
