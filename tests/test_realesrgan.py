"""Real-ESRGAN enhancers: fidelity to the official RealESRGANer on real frames, tiling, dni, errors.

Only realesr-animevideov3 has real weights in ../shared; the other three are tested on randomly
initialised checkpoints saved in the official key layout (basicsr RRDBNet / SRVGGNetCompact names,
wrapped in ``params_ema`` or ``params`` as the released files are).
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import SHARED_MEDIA, SHARED_WEIGHTS, needs_shared
from spandrel.architectures.Compact import Compact

from models import load_enhancer, registry
from models import realesrgan as resr
from models import weights as weights_module
from models.errors import BadOption, WeightsCorrupt, WeightsMissing

ANIME = "realesr-animevideov3.pth"
CLIP = "onepiece_demo.mp4"
FILES = {
    "realesrgan-x4plus": "RealESRGAN_x4plus.pth",
    "realesrgan-x2plus": "RealESRGAN_x2plus.pth",
    "realesr-general-x4v3": "realesr-general-x4v3.pth",
}
WDN = "realesr-general-wdn-x4v3.pth"


def psnr(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, peak: float = 1.0) -> float:
    a, b = (torch.as_tensor(np.ascontiguousarray(t)).double() for t in (a, b))
    mse = torch.mean((a - b) ** 2).item()
    return 10 * math.log10(peak**2 / max(mse, 1e-20))


pytestmark = pytest.mark.usefixtures("fresh_registry")


@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> Path:
    """An empty weights folder that is the only place weights are looked for."""
    folder = tmp_path / "weights"
    folder.mkdir()
    weights_module.set_search_path([folder])
    monkeypatch.setattr(weights_module, "REPO_WEIGHTS_DIR", tmp_path / "no-repo-weights")
    return folder


# -- random checkpoints in the official layout -------------------------------------------------------


def _conv(sd: dict, name: str, cin: int, cout: int, he_scale: float | None = None) -> None:
    """Add a 3x3 conv; PyTorch's default init, or He-normal times ``he_scale`` with zero bias."""
    conv = nn.Conv2d(cin, cout, 3, 1, 1)
    if he_scale is not None:
        nn.init.kaiming_normal_(conv.weight)
        conv.weight.data *= he_scale
        nn.init.zeros_(conv.bias)
    sd[f"{name}.weight"], sd[f"{name}.bias"] = conv.weight.detach(), conv.bias.detach()


def official_rrdbnet(scale: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """basicsr's RRDBNet(3, 3, scale, num_feat=64, num_block=23, num_grow_ch=32) key layout, random."""
    torch.manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    feat, grow = 64, 32
    _conv(sd, "conv_first", {4: 3, 2: 12, 1: 48}[scale], feat)  # x2/x1 see a pixel-unshuffled frame
    for b in range(23):
        for r in (1, 2, 3):
            for i in range(1, 6):
                # basicsr's default_init_weights(..., 0.1) for the dense blocks
                _conv(sd, f"body.{b}.rdb{r}.conv{i}", feat + (i - 1) * grow, grow if i < 5 else feat, 0.1)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        _conv(sd, name, feat, feat)
    _conv(sd, "conv_last", feat, 3)
    sd["conv_last.bias"] += 0.5  # centre the output in [0, 1] so that clamping does not hide differences
    return sd


def official_srvgg(num_conv: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """SRVGGNetCompact(3, 3, 64, num_conv, 4, prelu) (same names as the official arch), random."""
    torch.manual_seed(seed)
    net = Compact(num_feat=64, num_conv=num_conv, upscale=4)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:  # He init keeps the residual branch alive, so tiling seams would show
        nn.init.kaiming_normal_(conv.weight)
        nn.init.zeros_(conv.bias)
    convs[-1].weight.data *= 0.1
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def save_official(folder: Path, relpath: str, sd: dict, key: str) -> Path:
    """Save ``sd`` the way the release files are: ``{key: state_dict}``."""
    path = folder / relpath
    torch.save({key: sd}, path)
    return path


@pytest.fixture(scope="session")
def random_files(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """Random official-layout files for the three models without shipped weights (written once)."""
    folder = tmp_path_factory.mktemp("random-weights")
    sds = {
        "realesrgan-x4plus": official_rrdbnet(4, seed=1),
        "realesrgan-x2plus": official_rrdbnet(2, seed=2),
        "realesr-general-x4v3": official_srvgg(32, seed=3),
    }
    # the released wdn file is a fine-tune of x4v3, close to it: a blend of two unrelated random nets
    # would cancel its own residual branch out and leave nothing to compare
    torch.manual_seed(4)
    sds["wdn"] = {k: v + 0.1 * v.std() * torch.randn_like(v) for k, v in sds["realesr-general-x4v3"].items()}
    save_official(folder, FILES["realesrgan-x4plus"], sds["realesrgan-x4plus"], "params_ema")
    save_official(folder, FILES["realesrgan-x2plus"], sds["realesrgan-x2plus"], "params_ema")
    save_official(folder, FILES["realesr-general-x4v3"], sds["realesr-general-x4v3"], "params")
    save_official(folder, WDN, sds["wdn"], "params")
    return folder, sds


@pytest.fixture
def random_weights(weights_dir, random_files) -> dict[str, dict]:
    """The random files, linked into this test's own weights folder; returns their state dicts."""
    source, sds = random_files
    for path in source.iterdir():
        os.link(path, weights_dir / path.name)
    return sds


# -- registry entries ------------------------------------------------------------------------------


def test_registered_models():
    expected = {
        "realesr-animevideov3": (4.0, (ANIME,)),
        "realesrgan-x4plus": (4.0, (FILES["realesrgan-x4plus"],)),
        "realesrgan-x2plus": (2.0, (FILES["realesrgan-x2plus"],)),
        "realesr-general-x4v3": (4.0, (FILES["realesr-general-x4v3"], WDN)),
    }
    for name, (scale, files) in expected.items():
        spec = registry.get_spec(name)
        assert (spec.task, spec.scale, spec.weights) == ("upscale", scale, files)
        assert spec.licence == "BSD-3-Clause"
        assert not spec.noncommercial
        assert all(f in weights_module.MANIFEST for f in files)
    assert registry.get_spec("realesr-general-x4v3").options["denoise_strength"].default == 0.5


# -- fidelity: the official RealESRGANer steps, written out independently -----------------------------


def reference_srvgg(x: torch.Tensor, sd: dict, num_conv: int, scale: int) -> torch.Tensor:
    """SRVGGNetCompact forward from the official description: (conv, PReLU) x (num_conv + 1), conv,
    pixel shuffle, plus the nearest-upsampled input."""
    out = x
    for i in range(num_conv + 1):
        out = F.conv2d(out, sd[f"body.{2 * i}.weight"], sd[f"body.{2 * i}.bias"], padding=1)
        out = F.prelu(out, sd[f"body.{2 * i + 1}.weight"])
    last = 2 * (num_conv + 1)
    out = F.conv2d(out, sd[f"body.{last}.weight"], sd[f"body.{last}.bias"], padding=1)
    return F.pixel_shuffle(out, scale) + F.interpolate(x, scale_factor=scale, mode="nearest")


def official_enhance(bgr: np.ndarray, sd: dict, pre_pad: int = 10, scale: int = 4) -> np.ndarray:
    """RealESRGANer.enhance for an 8-bit BGR frame (tile 0, fp32), step by step."""
    img = bgr.astype(np.float32) / 255
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(np.transpose(img, (2, 0, 1))).float().unsqueeze(0)
    if pre_pad:
        x = F.pad(x, (0, pre_pad, 0, pre_pad), "reflect")
    with torch.no_grad():
        out = reference_srvgg(x, sd, num_conv=16, scale=scale)
    if pre_pad:
        out = out[:, :, : out.shape[2] - pre_pad * scale, : out.shape[3] - pre_pad * scale]
    out = out.squeeze(0).float().clamp_(0, 1).numpy()
    out = np.transpose(out[[2, 1, 0], :, :], (1, 2, 0))
    return (out * 255.0).round().astype(np.uint8)


def clip_frames(indices: tuple[int, ...], size: tuple[int, int]) -> list[np.ndarray]:
    """BGR uint8 frames of the demo clip (as the official video script reads them), shrunk to ``size``."""
    frames = []
    with av.open(str(SHARED_MEDIA / CLIP)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in indices:
                bgr = frame.to_ndarray(format="bgr24")
                frames.append(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA))
            if i >= max(indices):
                break
    return frames


def enhance_like_pipeline(enhancer, frames: list[np.ndarray]) -> np.ndarray:
    """Our path: RGB float batch in [0, 1] -> enhancer -> uint8 (round), returned as BGR to compare."""
    rgb = np.stack([f[..., ::-1] for f in frames])
    batch = torch.from_numpy(rgb.copy()).permute(0, 3, 1, 2).float() / 255
    out = enhancer.process(batch).float().mul(255).round().clamp(0, 255).to(torch.uint8)
    return out.permute(0, 2, 3, 1).cpu().numpy()[..., ::-1]


@needs_shared(f"weights/{ANIME}", f"media/{CLIP}")
def test_animevideov3_matches_official_on_real_frames():
    frames = clip_frames((0, 20, 40, 60), (96, 72))
    raw = torch.load(SHARED_WEIGHTS / ANIME, map_location="cpu", weights_only=True)
    sd = raw["params_ema"] if "params_ema" in raw else raw["params"]
    enhancer = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32")
    ours = enhance_like_pipeline(enhancer, frames)
    # RealESRGANer's own default pre_pad is 10; inference_realesrgan_video.py passes 0
    for pre_pad in (10, 0):
        expected = np.stack([official_enhance(f, sd, pre_pad=pre_pad) for f in frames])
        assert ours.shape == expected.shape == (4, 288, 384, 3)
        value = psnr(ours, expected, peak=255)
        print(f"realesr-animevideov3 fp32 vs official RealESRGANer (pre_pad {pre_pad}): {value:.2f} dB")
        assert value >= 40


@needs_shared(f"weights/{ANIME}")
def test_animevideov3_bf16_on_cpu():
    x = torch.rand(1, 3, 24, 32)
    fp32 = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32")
    bf16 = load_enhancer("realesr-animevideov3", device="cpu", precision="bf16")
    assert all(p.dtype == torch.bfloat16 for p in bf16.net.parameters())
    out = bf16.process(x)
    assert out.dtype == torch.bfloat16 and out.shape == (1, 3, 96, 128)
    assert psnr(out.float(), fp32.process(x)) >= 35


@needs_shared(f"weights/{ANIME}")
def test_animevideov3_loaded_once_eval_channels_last():
    enhancer = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32")
    again = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32")
    assert again.net is enhancer.net  # loaded once: every call shares the network
    assert not enhancer.net.training
    assert not any(p.requires_grad for p in enhancer.net.parameters())
    conv = enhancer.net.body[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and conv.dtype == torch.float32
    assert enhancer.info.extra["architecture"] == "SRVGGNetCompact"


@needs_shared(f"weights/{ANIME}")
def test_animevideov3_tiled_equals_whole_frame():
    x = torch.rand(1, 3, 48, 72)  # 32px tiles with an 18px pad: no tile sees the whole frame
    whole = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32", tile=0)
    tiled = load_enhancer("realesr-animevideov3", device="cpu", precision="fp32", tile=32)
    assert psnr(tiled.process(x), whole.process(x)) >= 40


# -- the models without shipped weights, on random official-layout checkpoints -----------------------


@pytest.mark.parametrize(
    ("name", "scale", "size"),
    [
        # RRDBNet is heavy: a strip 96 wide lets the 32px tiles with their 32px pad miss part of the frame
        ("realesrgan-x4plus", 4, (12, 96)),
        ("realesrgan-x2plus", 2, (13, 95)),  # odd sizes: padded to the x2 network's multiple of 2
        ("realesr-general-x4v3", 4, (40, 104)),  # 104 > 32 + 2 * 34: some tiles miss part of the frame
    ],
)
def test_random_official_checkpoints_tile_like_whole(random_weights, name, scale, size):
    whole = load_enhancer(name, device="cpu", precision="fp32", tile=0)
    tiled = load_enhancer(name, device="cpu", precision="fp32", tile=32)
    assert whole.scale == scale and whole.info.task == "upscale"
    torch.manual_seed(0)
    x = torch.rand(1, 3, *size)
    ref = whole.process(x)
    assert ref.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert ref.std() > 0.05  # a real picture, not a clamped constant
    assert psnr(tiled.process(x), ref) >= 40
    if name != "realesrgan-x4plus":  # (the slowest network: the other two show the same point)
        # the comparison has teeth: without overlap the seams show
        tiled.tile_pad = 0
        assert psnr(tiled.process(x), ref) < 40


def test_size_multiple_and_tile_pad():
    assert resr.VARIANTS["realesrgan-x2plus"].size_multiple == 2  # official mod_scale for scale 2
    assert resr.VARIANTS["realesrgan-x4plus"].size_multiple == 1
    # SRVGGNetCompact sees num_conv + 2 pixels around each output pixel: the pad covers all of it
    assert resr.VARIANTS["realesr-animevideov3"].tile_pad == 16 + 2
    assert resr.VARIANTS["realesr-general-x4v3"].tile_pad == 32 + 2


def test_x2plus_checkpoint_builds_unshuffle_network(random_weights):
    enhancer = load_enhancer("realesrgan-x2plus", device="cpu", precision="fp32")
    assert enhancer.size_multiple == 2 and enhancer.net.shuffle_factor == 2
    assert enhancer.process(torch.rand(1, 3, 9, 11)).shape == (1, 3, 18, 22)


# -- denoise strength: deep network interpolation ---------------------------------------------------


def _loaded(enhancer) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in enhancer.net.state_dict().items()}


def test_denoise_strength_blends_the_two_official_files(random_weights):
    a, b = random_weights["realesr-general-x4v3"], random_weights["wdn"]

    def load(strength):
        return load_enhancer(
            "realesr-general-x4v3", device="cpu", precision="fp32", options={"denoise_strength": strength}
        )

    one, zero, mix = _loaded(load(1)), _loaded(load(0)), _loaded(load(0.3))
    for k in a:
        assert torch.equal(one[k], a[k])
        assert torch.equal(zero[k], b[k])
        torch.testing.assert_close(mix[k], 0.3 * a[k] + 0.7 * b[k], rtol=0, atol=1e-6)
    default = load_enhancer("realesr-general-x4v3", device="cpu", precision="fp32")
    assert default.info.extra["denoise_strength"] == 0.5
    assert all(torch.allclose(v, 0.5 * a[k] + 0.5 * b[k], atol=1e-6) for k, v in _loaded(default).items())


def test_denoise_strength_one_needs_no_wdn_file(random_weights, weights_dir):
    (weights_dir / WDN).unlink()
    assert load_enhancer("realesr-general-x4v3", device="cpu", options={"denoise_strength": 1.0})
    with pytest.raises(WeightsMissing, match=WDN):
        load_enhancer("realesr-general-x4v3", device="cpu", options={"denoise_strength": 0.5})


def test_dni_blend_checks_layout():
    a = {"w": torch.ones(2), "b": torch.zeros(1)}
    blended = resr.dni_blend(a, {"w": torch.zeros(2), "b": torch.ones(1)}, (0.25, 0.75))
    assert torch.equal(blended["w"], a["w"] / 4) and torch.equal(blended["b"], torch.full((1,), 0.75))
    with pytest.raises(WeightsCorrupt, match="same layout"):
        resr.dni_blend(a, {"w": torch.ones(3), "b": torch.zeros(1)}, (0.5, 0.5))


@pytest.mark.parametrize("bad", [-0.1, 1.5, "strong", float("nan"), None])
def test_denoise_strength_out_of_range(random_weights, bad):
    with pytest.raises(BadOption, match="denoise_strength"):
        load_enhancer("realesr-general-x4v3", device="cpu", options={"denoise_strength": bad})


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FILES))
def test_missing_weights_names_file_folders_and_fix(weights_dir, name):
    with pytest.raises(WeightsMissing) as info:
        load_enhancer(name, device="cpu")
    message = str(info.value)
    assert FILES[name] in message
    assert str(weights_dir) in message and "no-repo-weights" in message
    assert f"flask weights download {name}" in message


def test_wrong_architecture_is_corrupt(weights_dir):
    # an SRVGG file where the RRDBNet x4plus should be
    save_official(weights_dir, FILES["realesrgan-x4plus"], official_srvgg(16), "params")
    with pytest.raises(WeightsCorrupt, match="RRDBNet"):
        load_enhancer("realesrgan-x4plus", device="cpu")


def test_wrong_size_is_corrupt(weights_dir):
    # a 16-conv compact (animevideov3-sized) file where the 32-conv general-x4v3 should be
    save_official(weights_dir, FILES["realesr-general-x4v3"], official_srvgg(16), "params")
    with pytest.raises(WeightsCorrupt, match="expected SRVGGNetCompact"):
        load_enhancer("realesr-general-x4v3", device="cpu", options={"denoise_strength": 1})


def test_x4_rrdb_file_is_not_accepted_as_x2(weights_dir, random_files):
    os.link(random_files[0] / FILES["realesrgan-x4plus"], weights_dir / FILES["realesrgan-x2plus"])
    with pytest.raises(WeightsCorrupt, match="x2"):
        load_enhancer("realesrgan-x2plus", device="cpu")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_garbage_and_code_carrying_files_are_refused(weights_dir, tmp_path):
    (weights_dir / FILES["realesrgan-x4plus"]).write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsCorrupt, match="flask weights download realesrgan-x4plus"):
        load_enhancer("realesrgan-x4plus", device="cpu")

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    with open(weights_dir / FILES["realesrgan-x2plus"], "wb") as fh:
        pickle.dump({"params_ema": {"x": Payload()}}, fh)
    torch.save({"params": {"x": Payload()}}, weights_dir / FILES["realesr-general-x4v3"])
    for name, options in (("realesrgan-x2plus", {}), ("realesr-general-x4v3", {"denoise_strength": 1})):
        with pytest.raises(WeightsCorrupt):
            load_enhancer(name, device="cpu", options=options)
    assert not marker.exists()
