"""``--model path.pth``: any spandrel-supported checkpoint, loaded without ever running code from the file."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import spandrel
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel_extra_arches import EXTRA_REGISTRY
from spandrel_extra_arches.architectures.MIRNet2 import MIRNet2

from models import custom, load_enhancer, registry
from models.errors import LicenceNotAccepted, UnknownModel, WeightsCorrupt

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("fresh_registry")


def small_compact(upscale: int = 2, channels: int = 3, seed: int = 0) -> Compact:
    """A tiny random SRVGGNetCompact (Real-ESRGAN's compact network)."""
    torch.manual_seed(seed)
    net = Compact(num_in_ch=channels, num_out_ch=channels, num_feat=16, num_conv=2, upscale=upscale)
    return net.eval().requires_grad_(False)


def save(net: torch.nn.Module, path: Path, key: str | None = "params") -> Path:
    """Save a state dict the way training code does (optionally wrapped in ``{key: ...}``)."""
    sd = net.state_dict()
    torch.save({key: sd} if key else sd, path)
    return path


# -- loading -----------------------------------------------------------------------------------------


def test_compact_checkpoint_is_an_upscaler(tmp_path):
    net = small_compact(upscale=2)
    path = save(net, tmp_path / "my-upscaler.pth")
    enhancer = custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    info = enhancer.info
    assert (info.name, info.task, info.scale) == ("my-upscaler.pth", "upscale", 2.0)
    assert info.licence == "user-supplied"
    assert not info.noncommercial and info.extra["architecture"] == "RealESRGAN Compact"
    x = torch.rand(2, 3, 10, 14)
    out = enhancer.process(x)
    assert out.shape == (2, 3, 20, 28)
    torch.testing.assert_close(out, net(x).clamp(0, 1))  # the file's own network, nothing else


def test_path_through_the_registry_and_chain_scale(tmp_path):
    path = save(small_compact(upscale=4), tmp_path / "x4.pth", key="params_ema")
    assert registry.chain_scale(str(path)) == 4.0
    enhancer = load_enhancer(str(path), device="cpu", precision="fp32")
    assert enhancer.scale == 4.0 and enhancer.name == "x4.pth"
    again = load_enhancer(str(path), device="cpu", precision="fp32")
    assert again.descriptor is enhancer.descriptor  # built once


def test_scale_one_model_is_an_enhancer(tmp_path):
    path = save(small_compact(upscale=1), tmp_path / "denoise.pth", key=None)
    enhancer = custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    assert enhancer.info.task == "enhance" and enhancer.scale == 1.0
    assert enhancer.process(torch.rand(1, 3, 9, 7)).shape == (1, 3, 9, 7)


def test_size_multiple_comes_from_the_descriptor(tmp_path):
    # Real-ESRGAN x2-style RRDBNet (pixel-unshuffle): spandrel asks for sides that are a multiple of 4
    torch.manual_seed(0)
    net = ESRGAN(in_nc=12, out_nc=3, num_filters=16, num_blocks=1, scale=4, shuffle_factor=2)
    path = save(net, tmp_path / "rrdb-x2.pth", key=None)
    enhancer = custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    desc = spandrel.ModelLoader().load_from_state_dict(net.state_dict())
    assert enhancer.size_multiple == desc.size_requirements.multiple_of == 4
    assert enhancer.scale == 2.0
    assert enhancer.process(torch.rand(1, 3, 9, 11)).shape == (1, 3, 18, 22)


def test_safetensors_and_tiling(tmp_path):
    net = small_compact(upscale=2)
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    whole = custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    tiled = custom.load_checkpoint_enhancer(path, CPU, torch.float32, 32)
    x = torch.rand(1, 3, 48, 80)
    mse = F.mse_loss(tiled.process(x), whole.process(x)).item()
    assert mse < 1e-4  # >= 40 dB


def test_bf16_on_cpu(tmp_path):
    path = save(small_compact(), tmp_path / "m.pth")
    enhancer = custom.load_checkpoint_enhancer(path, CPU, torch.bfloat16, 0)
    assert enhancer.dtype == torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in enhancer.descriptor.model.parameters())
    assert enhancer.process(torch.rand(1, 3, 8, 8)).dtype == torch.bfloat16


# -- refusing files ----------------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo, name: str) -> str:
    message = str(exc.value)
    assert "\n" not in message and name in message
    return message


def test_unrecognised_state_dict(tmp_path):
    path = tmp_path / "mystery.pth"
    torch.save({"encoder.block.weight": torch.randn(4, 4)}, path)
    with pytest.raises(WeightsCorrupt) as exc:
        custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    assert "not a checkpoint of any architecture spandrel knows" in _one_line(exc, "mystery.pth")


@pytest.mark.parametrize("content", [b"", b"hello, not a model", b"PK\x03\x04broken zip"])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "garbage.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsCorrupt) as exc:
        custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    _one_line(exc, "garbage.pth")


class _Payload:
    """Unpickling this runs ``exec``: it creates the file named at construction."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _write_malicious(path: Path, marker: Path, how: str) -> None:
    """A checkpoint whose state dict hides a code-running object, written three ways."""
    evil = {"params": {"body.0.weight": torch.zeros(1), "body.1.weight": _Payload(marker)}}
    if how == "zip":
        torch.save(evil, path)
    elif how == "legacy":
        torch.save(evil, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(evil))


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    # control: the test below is only meaningful if an ordinary unpickler would run the payload
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["zip", "legacy", "raw-pickle"])
def test_code_carrying_pickle_is_refused_and_not_run(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    _write_malicious(path, marker, how)
    with pytest.raises(WeightsCorrupt) as exc:
        custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    _one_line(exc, "evil.pth")
    with pytest.raises(WeightsCorrupt):
        registry.chain_scale(str(path))
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.trace is deprecated, still writes archives
def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.trace(small_compact(), torch.rand(1, 3, 8, 8)).save(str(path))
    with pytest.raises(WeightsCorrupt) as exc:
        custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    assert "TorchScript" in _one_line(exc, "scripted.pt")


def test_grayscale_model_is_refused(tmp_path):
    path = save(small_compact(channels=1), tmp_path / "gray.pth")
    with pytest.raises(UnknownModel) as exc:
        custom.load_checkpoint_enhancer(path, CPU, torch.float32, 0)
    assert "RGB" in _one_line(exc, "gray.pth")


def test_missing_file(tmp_path):
    with pytest.raises(UnknownModel, match="does not exist"):
        custom.load_checkpoint_enhancer(tmp_path / "nope.pth", CPU, torch.float32, 0)


# -- non-commercial architectures (spandrel_extra_arches) --------------------------------------------


@pytest.fixture
def mirnet_file(tmp_path) -> Path:
    torch.manual_seed(0)
    return save(MIRNet2(n_feat=16, n_MRB=1), tmp_path / "mirnet-small.pth")


def test_extra_arch_needs_the_noncommercial_opt_in(mirnet_file, monkeypatch):
    # even if some code installed the extra arches into spandrel's main registry
    main_with_extras = spandrel.MAIN_REGISTRY.copy()
    main_with_extras.add(*EXTRA_REGISTRY, ignore_duplicates=True)
    monkeypatch.setattr(custom, "MAIN_REGISTRY", main_with_extras)
    with pytest.raises(LicenceNotAccepted) as exc:
        custom.load_checkpoint_enhancer(mirnet_file, CPU, torch.float32, 0)
    assert "ENHANCE_ALLOW_NONCOMMERCIAL=1" in _one_line(exc, "mirnet-small.pth")


def test_extra_arch_loads_with_opt_in(mirnet_file):
    registry.set_allow_noncommercial(True)
    enhancer = custom.load_checkpoint_enhancer(mirnet_file, CPU, torch.float32, 0)
    assert enhancer.info.noncommercial and enhancer.info.task == "enhance"
    assert enhancer.size_multiple == 4
    assert enhancer.process(torch.rand(1, 3, 10, 14)).shape == (1, 3, 10, 14)
