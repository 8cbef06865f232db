"""The weights manifest and where weights files are looked for.

Every file any built-in enhancer needs is listed here with its official URL, sha256, size and licence.
Files are looked up along ``ENHANCE_WEIGHTS_PATH`` (colon-separated), then ``weights/`` in the repo.
Downloading and verifying live in :mod:`models.download`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import WeightsMissing

REPO_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class WeightsFile:
    """One official weights file: where it lives relative to a weights folder and where it comes from."""

    path: str  # relative path inside a weights folder, e.g. "lut3d/LUTs.pth"
    url: str
    sha256: str | None  # None only where no official checksum could be established (see README)
    size: int | None
    licence: str
    #: set when the official file is only published inside a zip archive (e.g. a wheel): then ``archive``
    #: is the archive's own entry (downloaded and checked like any file) and ``member`` the path inside it
    archive: WeightsFile | None = None
    member: str | None = None


_RESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases/download"
_MIRNET = "https://github.com/swz30/MIRNetv2/releases/download/v1.0.0"
_LUT3D = "https://github.com/HuiZeng/Image-Adaptive-3DLUT/raw/master/pretrained_models/sRGB"
_ZERODCE = "https://github.com/Li-Chongyi/Zero-DCE/raw/master/Zero-DCE_code/snapshots"
#: the vs-temporalfix 2.4.1 wheel on PyPI: the only published home of the TemporalFix files (its members
#: vs_temporalfix/models/<name>); sha256 and size of the wheel as PyPI serves it
TEMPORALFIX_WHEEL = WeightsFile(
    "temporalfix/vs_temporalfix-2.4.1-py3-none-any.whl",
    "https://files.pythonhosted.org/packages/70/7b/42cdcc6fec234b74047f49a50c38398c7e89f231fa90a19ebea0718b702d/"
    "vs_temporalfix-2.4.1-py3-none-any.whl",
    "e55fe598cc62970ae9bb91f87495496236605cd40a77e3d64ad04c686495ca06",
    11264829,
    "Apache-2.0",
)

MANIFEST: dict[str, WeightsFile] = {
    f.path: f
    for f in (
        WeightsFile(
            "realesr-animevideov3.pth",
            f"{_RESRGAN}/v0.2.5.0/realesr-animevideov3.pth",
            "4e1e09ba96d08bd4b8455e8897c3242a3501e3766f359941ea894122e158a932",
            2334339,
            "BSD-3-Clause",
        ),
        # The next four checksums are not in ../shared. RealESRGAN_x4plus, _x2plus and realesr-general-x4v3:
        # OpenModelDB (github.com/OpenModelDB/open-model-database, data/models/4x-realesrgan-x4plus.json,
        # 2x-realesrgan-x2plus.json, 4x-realesr-general-x4v3.json) records sha256 and size for exactly these
        # release URLs, and the same values appear in the Git LFS pointers of independent Hugging Face
        # mirrors (e.g. huggingface.co/rippertnt/upscale commit 48480a0). realesr-general-wdn-x4v3 is not in
        # OpenModelDB: its sha256 and size are the ones several unrelated projects pin for this exact URL
        # (release-asset manifests whose downloads pass their checks); same architecture, same byte size.
        WeightsFile(
            "RealESRGAN_x4plus.pth",
            f"{_RESRGAN}/v0.1.0/RealESRGAN_x4plus.pth",
            "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            67040989,
            "BSD-3-Clause",
        ),
        WeightsFile(
            "RealESRGAN_x2plus.pth",
            f"{_RESRGAN}/v0.2.1/RealESRGAN_x2plus.pth",
            "49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
            67061725,
            "BSD-3-Clause",
        ),
        WeightsFile(
            "realesr-general-x4v3.pth",
            f"{_RESRGAN}/v0.2.5.0/realesr-general-x4v3.pth",
            "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
            4885111,
            "BSD-3-Clause",
        ),
        WeightsFile(
            "realesr-general-wdn-x4v3.pth",
            f"{_RESRGAN}/v0.2.5.0/realesr-general-wdn-x4v3.pth",
            "1641f8c4464b9f097c9fdda5589273713f67cf59f3d909e0bd688f0cee269dca",
            4885111,
            "BSD-3-Clause",
        ),
        # MIRNetv2 (github.com/swz30/MIRNetv2 release v1.0.0): no published checksum could be found (the
        # README gives only the URLs), so these download with a warning and `flask weights verify`
        # reports them as unverified.
        *(
            WeightsFile(
                f"mirnetv2/{n}.pth",
                f"{_MIRNET}/{n}.pth",
                None,
                None,
                "Academic Public License (non-commercial)",
            )
            for n in ("real_denoising", "enhancement_lol", "enhancement_fivek", "sr_x2", "sr_x3", "sr_x4")
        ),
        WeightsFile(
            "lut3d/LUTs.pth",
            f"{_LUT3D}/LUTs.pth",
            "c1bb2bc4b7239c1a7e96159f5923123ba796b1fceb0b8c3132b423ea825b821a",
            1294452,
            "Apache-2.0",
        ),
        WeightsFile(
            "lut3d/classifier.pth",
            f"{_LUT3D}/classifier.pth",
            "bae9865395625ecae58cfe86147e521093bb1e29e7b2544e02adb238b8035021",
            1083261,
            "Apache-2.0",
        ),
        WeightsFile(
            "zero-dce/Epoch99.pth",
            f"{_ZERODCE}/Epoch99.pth",
            "a4395acb874f320375d9704997cef874eaaaaa26a1777ceb29a92b70f74c3612",
            320017,
            "CC BY-NC 4.0 (non-commercial)",
        ),
        # TemporalFix (pifroggi/vs_temporalfix, Apache-2.0): checksums from ../shared/README.md, equal to
        # the members of the wheel; `flask weights download` fetches the wheel once and takes them out
        *(
            WeightsFile(
                f"temporalfix/temporalfix_{v}.pth",
                TEMPORALFIX_WHEEL.url,
                sha256,
                2014353,
                "Apache-2.0",
                archive=TEMPORALFIX_WHEEL,
                member=f"vs_temporalfix/models/temporalfix_{v}.pth",
            )
            for v, sha256 in (
                ("s0_v1", "778b32d5c117b846912a93e88ea887541c797474784f6d896c5bfe92d71dd9fd"),
                ("s1_v1.1", "092db03f1d47402f1cc21294afe31072f31ba7a0de76984e06f748c0b6f6b311"),
                ("s2_v1", "f762c05f219ed0588044179f658adc0dcf6875b1d57310d8dff69424ad8f4b1b"),
                ("s3_v1", "276c84c6e16a0f44df21c503118e0eaa812dc36c2500f539ed3d26934e7da303"),
            )
        ),
    )
}


# Folders searched before weights/: set once per process by whoever starts it (the app passes
# ENHANCE_WEIGHTS_PATH through its Settings); enhancers never read the environment themselves.
_search_path: tuple[Path, ...] = ()


def set_search_path(folders: Iterable[str | Path]) -> None:
    """Search ``folders`` (in order) before the repo's weights/ folder; an empty list leaves only weights/."""
    global _search_path
    _search_path = tuple(Path(f).expanduser() for f in folders)


def search_dirs() -> list[Path]:
    """The folders searched for weights, in order: those set by ``set_search_path``, then weights/."""
    return [*_search_path, REPO_WEIGHTS_DIR]


def locate(path: str) -> Path | None:
    """The first existing file at ``path`` in the search folders, or None."""
    for folder in search_dirs():
        candidate = folder / path
        if candidate.is_file():
            return candidate
    return None


def require(path: str, model: str | None = None) -> Path:
    """The weights file at ``path``, or WeightsMissing naming the file, the folders and the fix."""
    found = locate(path)
    if found is not None:
        return found
    folders = ", ".join(str(d) for d in search_dirs())
    who = f" for {model}" if model else ""
    # where the server looks and how to fetch are the operator's business: an HTTP client is told neither
    raise WeightsMissing(
        f"weights file {path}{who} is not installed",
        hints={
            "cli": f"looked in {folders}; fetch it with: flask weights download {model or path} "
            "(or put it in a folder on ENHANCE_WEIGHTS_PATH)",
            "http": "this server's operator has not installed it; choose another model",
        },
    )


def ready(paths: tuple[str, ...]) -> bool:
    """True when every one of ``paths`` can be found."""
    return all(locate(p) is not None for p in paths)
