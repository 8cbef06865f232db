"""Zero-DCE with the real official weights (../shared/weights/zero-dce/Epoch99.pth)."""

from __future__ import annotations

import math

import cv2
import pytest
import torch
import torch.nn.functional as F
from conftest import SHARED_MEDIA, SHARED_WEIGHTS, needs_shared

from models import load_enhancer, registry
from models import weights as weights_module
from models import zerodce as zerodce_module
from models.errors import LicenceNotAccepted, WeightsCorrupt, WeightsMissing

WEIGHTS = "weights/zero-dce/Epoch99.pth"
IMAGE = "media/lowlight_dicm01.jpg"
real_weights = needs_shared(WEIGHTS)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return 10 * math.log10(1 / max(mse, 1e-20))


pytestmark = pytest.mark.usefixtures("fresh_registry")


@pytest.fixture
def opted_in():
    registry.set_allow_noncommercial(True)


@pytest.fixture(scope="module")
def dark_frame() -> torch.Tensor:
    """The DICM low-light sample, downscaled to 120x160 (RGB, [0, 1], NCHW)."""
    path = SHARED_MEDIA / "lowlight_dicm01.jpg"
    if not path.exists():
        pytest.skip(f"../shared lacks {IMAGE}")
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (120, 160), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255


def reference_zero_dce(state: dict, x: torch.Tensor) -> torch.Tensor:
    """Zero-DCE written out op by op from the paper's description, straight from the state dict."""

    def conv(name, t):
        return F.conv2d(t, state[f"{name}.weight"], state[f"{name}.bias"], padding=1)

    x1 = torch.relu(conv("e_conv1", x))
    x2 = torch.relu(conv("e_conv2", x1))
    x3 = torch.relu(conv("e_conv3", x2))
    x4 = torch.relu(conv("e_conv4", x3))
    x5 = torch.relu(conv("e_conv5", torch.cat([x3, x4], dim=1)))
    x6 = torch.relu(conv("e_conv6", torch.cat([x2, x5], dim=1)))
    alphas = torch.tanh(conv("e_conv7", torch.cat([x1, x6], dim=1)))
    out = x
    for i in range(8):
        alpha = alphas[:, 3 * i : 3 * i + 3]
        out = out + alpha * (out**2 - out)
    return out.clamp(0, 1)


def test_registered_as_non_commercial_low_light():
    spec = registry.get_spec("zero-dce")
    assert (spec.task, spec.scale, spec.weights) == ("low-light", 1.0, ("zero-dce/Epoch99.pth",))
    assert spec.noncommercial and spec.licence == "CC BY-NC 4.0 (non-commercial)"
    assert weights_module.MANIFEST["zero-dce/Epoch99.pth"].licence == spec.licence


def test_refused_without_licence_opt_in():
    with pytest.raises(LicenceNotAccepted) as err:
        load_enhancer("zero-dce", device="cpu", precision="fp32")
    assert "zero-dce" in str(err.value) and "ENHANCE_ALLOW_NONCOMMERCIAL=1" in str(err.value)


@real_weights
def test_official_weights_load_strictly():
    state = torch.load(SHARED_WEIGHTS / "zero-dce" / "Epoch99.pth", map_location="cpu", weights_only=True)
    net = zerodce_module.load_network(SHARED_WEIGHTS / "zero-dce" / "Epoch99.pth")
    ours = net.state_dict()
    assert ours.keys() == state.keys()
    assert all(torch.equal(ours[k], state[k]) for k in state)


def test_a_foreign_state_dict_is_weights_corrupt(tmp_path):
    path = tmp_path / "Epoch99.pth"
    torch.save({"e_conv1.weight": torch.zeros(32, 3, 3, 3)}, path)
    with pytest.raises(WeightsCorrupt, match="flask weights download zero-dce"):
        zerodce_module.load_network(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(WeightsCorrupt):
        zerodce_module.load_network(path)


def test_missing_weights_name_the_file_and_the_fix(opted_in, monkeypatch, tmp_path):
    weights_module.set_search_path([tmp_path])
    monkeypatch.setattr(weights_module, "REPO_WEIGHTS_DIR", tmp_path / "repo-weights")
    with pytest.raises(WeightsMissing) as err:
        load_enhancer("zero-dce", device="cpu", precision="fp32")
    assert "zero-dce/Epoch99.pth" in str(err.value) and "flask weights download zero-dce" in str(err.value)


@real_weights
def test_brightens_a_dark_image_and_keeps_its_size(opted_in, dark_frame):
    enhancer = load_enhancer("zero-dce", device="cpu", precision="fp32")
    out = enhancer.process(dark_frame)
    assert out.shape == dark_frame.shape and enhancer.scale == 1
    # DICM 01 has a mean of about 0.08; Zero-DCE roughly doubles it.
    assert out.mean() > dark_frame.mean() + 0.05
    assert out.min() >= 0 and out.max() <= 1


@real_weights
def test_matches_an_independent_reference(opted_in, dark_frame):
    state = torch.load(SHARED_WEIGHTS / "zero-dce" / "Epoch99.pth", map_location="cpu", weights_only=True)
    out = load_enhancer("zero-dce", device="cpu", precision="fp32").process(dark_frame)
    assert psnr(out, reference_zero_dce(state, dark_frame)) >= 40


@real_weights
def test_tiled_matches_whole_frame(opted_in, dark_frame):
    whole = load_enhancer("zero-dce", device="cpu", precision="fp32").process(dark_frame)
    tiled = load_enhancer("zero-dce", device="cpu", precision="fp32", tile=32)
    # Receptive field radius 7 < tile_pad 16: tiles are exact, not just close.
    assert psnr(tiled.process(dark_frame), whole) >= 40


@real_weights
def test_odd_sizes_and_bf16(opted_in, dark_frame):
    x = dark_frame[..., :57, :43]
    fp32 = load_enhancer("zero-dce", device="cpu", precision="fp32").process(x)
    bf16 = load_enhancer("zero-dce", device="cpu", precision="bf16").process(x)
    assert fp32.shape == bf16.shape == x.shape
    assert psnr(bf16.float(), fp32) >= 35
