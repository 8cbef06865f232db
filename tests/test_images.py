"""Still images go through the same enhancers: RGBA, 16-bit, grey and JPEG keep their nature."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.pipeline import EnhanceOptions, enhance_file
from models.errors import BadOption
from tests.conftest import needs_shared
from tests.media import gradient_frame

X2 = EnhanceOptions(model="bicubic", model_options={"scale": 2})


def test_rgba_png_keeps_alpha(tmp_path):
    rgba = np.dstack([gradient_frame(40, 30, 0), np.full((30, 40), 128, np.uint8)])
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), rgba)
    enhance_file(src, tmp_path / "out.png", X2)
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (60, 80, 4)
    assert np.all(out[..., 3] == 128)


def test_16bit_png_stays_16bit(tmp_path):
    img = gradient_frame(40, 30, 0).astype(np.uint16) * 257
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), img)
    enhance_file(src, tmp_path / "out.png", X2)
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (60, 80, 3)


def test_grey_stays_grey_and_jpeg_works(tmp_path):
    src = tmp_path / "in.jpg"
    cv2.imwrite(str(src), gradient_frame(40, 30, 0)[..., 0])
    enhance_file(src, tmp_path / "out.jpg", X2)
    out = cv2.imread(str(tmp_path / "out.jpg"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (60, 80)


def test_alpha_into_jpeg_is_refused(tmp_path):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(BadOption, match="alpha"):
        enhance_file(src, tmp_path / "out.jpg", X2)
    assert not (tmp_path / "out.jpg").exists()


@needs_shared("media/children-alpha.png", "media/tree_alpha_16bit.png", "media/wolf_gray.jpg")
@pytest.mark.parametrize("name", ["children-alpha.png", "tree_alpha_16bit.png", "wolf_gray.jpg"])
def test_shared_sample_images(tmp_path, shared_media, name):
    src = shared_media / name
    before = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    dst = tmp_path / f"out{src.suffix}"
    enhance_file(src, dst, EnhanceOptions(model="lanczos", model_options={"scale": 0.5}))
    after = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert after.dtype == before.dtype
    assert after.ndim == before.ndim and after.shape[2:] == before.shape[2:]
    assert after.shape[:2] == (round(before.shape[0] / 2), round(before.shape[1] / 2))
