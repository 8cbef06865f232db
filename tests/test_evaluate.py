"""``flask evaluate``: the degradations' definitions, the plan, the metrics, and a real CLI run checked
against an independent OpenCV/NumPy computation and against a second run; the video mode's clips, damages,
warping error and command on tiny clips."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO, SHARED_WEIGHTS, needs_shared
from skimage import data

from app.commands.evaluate import evaluate_command
from app.evaluation import DEGRADATIONS, folder_images, parse_degradations, plan, run
from app.evaluation.degrade import add_noise, crop_to_multiple, darken, downscale
from app.evaluation.flicker import measure_motion, warping_error
from app.evaluation.images import centre_crop, default_images, to_rgb8
from app.evaluation.metrics import psnr, ssim
from app.evaluation.plan import INPUT, default_video_models, parse_models
from app.evaluation.video_degrade import VIDEO_DEGRADATIONS, parse_video_degradations
from app.evaluation.video_runner import ORIGINAL, write_clip
from app.evaluation.videos import CLIP_FRAMES, CLIP_SIZE, MOTIONS, Motion, default_clips, render
from models import registry, weights
from models.errors import BadOption, UnknownModel

CHEAP = "bicubic,lanczos,lut3d,zero-dce"


def _photo(h: int = 66, w: int = 70, top: int = 100, left: int = 180) -> np.ndarray:
    """A small natural RGB crop whose sides are not multiples of 4."""
    return np.ascontiguousarray(data.astronaut()[top : top + h, left : left + w])


# -- degradations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shape"), [("x4", (16, 17, 3)), ("x2", (33, 35, 3)), ("x3", (22, 23, 3))])
def test_resize_damage_crops_then_averages_blocks(name, shape):
    d = DEGRADATIONS[name]
    clean = _photo()
    gt, bad = d.ground_truth(clean), d.apply(clean)
    f = d.factor
    assert gt.shape == (shape[0] * f, shape[1] * f, 3) and bad.shape == shape
    assert np.array_equal(gt, clean[: gt.shape[0], : gt.shape[1]])  # bottom/right rows go
    # INTER_AREA at an integer factor is the mean of each f x f block
    blocks = gt.reshape(shape[0], f, shape[1], f, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(bad.astype(np.float64) - blocks).max() <= 0.5 + 1e-9
    assert np.array_equal(bad, d.apply(clean))


def test_noise25_is_seeded_gaussian_with_sigma_25():
    grey = np.full((256, 256, 3), 128, np.uint8)  # far from 0 and 255: clipping does not shrink the std
    noisy = DEGRADATIONS["noise25"].apply(grey)
    diff = noisy.astype(np.float64) - grey
    assert noisy.dtype == np.uint8 and noisy.shape == grey.shape
    assert abs(diff.std() - 25) < 0.3 and abs(diff.mean()) < 0.3
    assert np.array_equal(noisy, DEGRADATIONS["noise25"].apply(grey))  # deterministic
    assert np.array_equal(noisy, add_noise(grey, 25, seed=0))
    assert not np.array_equal(noisy, add_noise(grey, 25, seed=1))
    assert np.array_equal(diff, np.rint(diff))  # rounded to integers


def test_x4_noise10_is_x4_then_sigma_10():
    clean = np.full((256, 256, 3), 120, np.uint8)
    clean[:, ::2] = 136  # some structure for the downscale to average away
    d = DEGRADATIONS["x4+noise10"]
    bad = d.apply(clean)
    down = downscale(clean, 4)
    assert bad.shape == (64, 64, 3) and d.factor == 4
    assert abs((bad.astype(np.float64) - down).std() - 10) < 0.5
    assert np.array_equal(bad, add_noise(down, 10))


def test_dark_is_exposure_times_gamma():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    dark = DEGRADATIONS["dark"].apply(ramp)
    expected = np.clip(np.rint(255 * 0.5 * (ramp / 255.0) ** 2.0), 0, 255)
    assert np.array_equal(dark, expected) and dark.dtype == np.uint8
    assert dark[-1, -1, 0] == 128 and dark[0, 0, 0] == 0 and dark.mean() < ramp.mean() / 2
    assert np.array_equal(darken(ramp), dark)


def test_jpeg20_is_a_deterministic_round_trip():
    clean = _photo(64, 64)
    d = DEGRADATIONS["jpeg20"]
    bad = d.apply(clean)
    assert bad.shape == clean.shape and bad.dtype == np.uint8
    assert np.array_equal(bad, d.apply(clean))
    assert 20 < psnr(clean, bad) < 40  # visibly damaged, still the same picture


def test_parse_degradations():
    default = ["x4", "x2", "noise25", "x4+noise10", "dark", "jpeg20"]
    assert [d.name for d in parse_degradations(None)] == default
    assert [d.name for d in parse_degradations("dark, x4,dark")] == ["dark", "x4"]
    with pytest.raises(BadOption, match="allowed: x2"):
        parse_degradations("x4,blur")


def test_crop_helpers():
    im = np.zeros((10, 13, 3), np.uint8)
    assert crop_to_multiple(im, 4).shape == (8, 12, 3)
    big = np.arange(20 * 30).reshape(20, 30)
    assert np.array_equal(centre_crop(big, 8), big[6:14, 11:19])
    assert centre_crop(big, 0) is big and centre_crop(big, 100).shape == (20, 30)


# -- metrics ---------------------------------------------------------------------------------------


def test_psnr_and_ssim():
    a = np.full((32, 32, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, 0] = 110  # MSE = 100 / (32*32*3)
    assert psnr(a, a) == math.inf and ssim(a, a) == pytest.approx(1.0)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 * 32 * 32 * 3 / 100))
    assert ssim(a, b) < 1


# -- images ----------------------------------------------------------------------------------------


def test_folder_images_convert_to_rgb8_and_note_the_rest(tmp_path):
    rgb = _photo(40, 40)
    cv2.imwrite(str(tmp_path / "a_grey.png"), rgb[..., 0])
    cv2.imwrite(str(tmp_path / "b_rgba.png"), np.dstack([rgb[..., ::-1], np.full((40, 40), 7, np.uint8)]))
    cv2.imwrite(str(tmp_path / "c_16bit.png"), (rgb[..., ::-1].astype(np.uint16) * 257))
    cv2.imwrite(str(tmp_path / "d_tiny.png"), rgb[:8, :8])
    (tmp_path / "e_notes.txt").write_text("not an image")
    (tmp_path / "f_broken.png").write_bytes(b"\x89PNG garbage")
    images, left_out = folder_images(tmp_path, max_size=32)
    assert [im.name for im in images] == ["a_grey.png", "b_rgba.png", "c_16bit.png"]
    assert all(im.pixels.shape == (32, 32, 3) and im.pixels.dtype == np.uint8 for im in images)
    assert np.array_equal(images[0].pixels[..., 1], images[0].pixels[..., 0])  # grey -> R = G = B
    assert np.array_equal(images[1].pixels, rgb[4:36, 4:36])  # alpha dropped, centre crop
    assert np.array_equal(images[2].pixels, rgb[4:36, 4:36])  # 16-bit -> 8-bit exactly
    assert [name for name, _ in left_out] == ["d_tiny.png", "e_notes.txt", "f_broken.png"]
    assert to_rgb8(np.full((2, 2), 65535, np.uint16)).max() == 255


def test_default_images_ship_with_scikit_image():
    images = default_images(max_size=96)
    assert [im.name for im in images] == ["astronaut", "chelsea", "coffee", "rocket"]
    assert all(im.pixels.shape == (96, 96, 3) for im in images)


# -- plan ------------------------------------------------------------------------------------------


def _fits(tasks) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t in tasks:
        out.setdefault(t.model, []).append(t.degradation.name)
    return out


def test_plan_matches_models_to_damages():
    registry.set_allow_noncommercial(True)
    degs = parse_degradations("x2,x4,noise25,x4+noise10,dark,jpeg20")
    names = "bicubic,realesr-animevideov3,lut3d,zero-dce,zero-dce+realesr-animevideov3"
    tasks, skipped = plan(parse_models(names), degs)
    assert _fits(tasks) == {
        "bicubic": ["x2", "x4", "x4+noise10"],
        "realesr-animevideov3": ["x4", "x4+noise10"],
        "lut3d": ["dark"],
        "zero-dce": ["dark"],
        INPUT: ["dark"],  # the unrestored reference, only where a scale-1 restorer runs
    }
    assert {t.options.get("scale") for t in tasks if t.model == "bicubic"} == {2, 4}
    reasons = {(s.what, s.name): s.reason for s in skipped}
    assert "no requested degradation fits" in reasons["model", "zero-dce+realesr-animevideov3"]
    assert "no requested model restores it" in reasons["degradation", "noise25"]
    # with the default list, a damage nobody asked a model for is not worth a line
    _, quiet = plan(parse_models("bicubic"), degs, named=False)
    assert [s.name for s in quiet] == []


def test_plan_reports_licence_and_missing_weights(tmp_path):
    weights.set_search_path([SHARED_WEIGHTS])
    degs = parse_degradations("x4,x4+noise10,noise25,dark")
    names = "zero-dce,realesrgan-x4plus,mirnetv2-denoise+realesr-animevideov3"
    tasks, skipped = plan(parse_models(names), degs)
    assert tasks == []
    reasons = {(s.what, s.name): s.reason for s in skipped}
    assert "ENHANCE_ALLOW_NONCOMMERCIAL=1" in reasons["model", "zero-dce"]
    assert "weights missing: RealESRGAN_x4plus.pth" in reasons["model", "realesrgan-x4plus"]
    assert "flask weights download realesrgan-x4plus" in reasons["model", "realesrgan-x4plus"]
    # the chain fits denoise-then-upscale; its denoiser is refused before its weights are even looked for
    assert "non-commercial" in reasons["model", "mirnetv2-denoise+realesr-animevideov3"]
    assert "mirnetv2-denoise+realesr-animevideov3" in reasons["degradation", "x4+noise10"]
    with pytest.raises(UnknownModel):
        plan(["bicubc"], degs)
    with pytest.raises(UnknownModel, match="registered models"):
        plan([str(tmp_path / "net.pth")], degs)


def test_evaluation_package_does_not_import_flask():
    for path in (REPO / "app" / "evaluation").glob("*.py"):
        lines = path.read_text().splitlines()
        assert not [ln for ln in lines if ln.strip().startswith(("import flask", "from flask"))], path


# -- the command, end to end -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One ``flask evaluate`` subprocess on three tiny images (sides not multiples of 4) and a text file."""
    folder = tmp_path_factory.mktemp("images")
    cv2.imwrite(str(folder / "face.png"), _photo()[..., ::-1])
    cv2.imwrite(str(folder / "rocket.jpg"), data.rocket()[200:266, 300:370][..., ::-1])
    cv2.imwrite(str(folder / "coins.png"), data.coins()[100:166, 100:170])  # grey
    (folder / "readme.txt").write_text("not an image")
    out = tmp_path_factory.mktemp("out")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENHANCE_")}
    env["ENHANCE_WEIGHTS_PATH"] = str(SHARED_WEIGHTS)
    args = ["--models", CHEAP, "--images", str(folder), "--out", str(out)]
    args += ["--degradations", "x4,x2,dark,noise25", "--max-size", "0"]
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "evaluate", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return folder, out, proc


@needs_shared("weights/lut3d/LUTs.pth", "weights/lut3d/classifier.pth")
def test_cli_writes_rows_table_chart_and_skips(cli_run):
    _, out, proc = cli_run
    rows = json.loads((out / "results.json").read_text())
    assert isinstance(rows, list)
    keys = {"image", "degradation", "model", "psnr", "ssim", "ms_per_frame", "device"}
    assert all(keys <= row.keys() for row in rows)
    combos = {(r["model"], r["degradation"]) for r in rows}
    assert combos == {
        ("bicubic", "x4"), ("bicubic", "x2"), ("lanczos", "x4"), ("lanczos", "x2"),
        ("lut3d", "dark"), (INPUT, "dark"),
    }  # fmt: skip
    assert len(rows) == 3 * len(combos)
    for r in rows:
        assert 5 < r["psnr"] < 60 and 0 < r["ssim"] <= 1 and r["ms_per_frame"] >= 0 and r["device"] == "cpu"
    skipped = json.loads((out / "skipped.json").read_text())
    by_name = {(s["what"], s["name"]): s["reason"] for s in skipped}
    assert "ENHANCE_ALLOW_NONCOMMERCIAL=1" in by_name["model", "zero-dce"]
    assert "not an image" in by_name["image", "readme.txt"]
    assert ("degradation", "noise25") in by_name
    md = (out / "results.md").read_text()
    assert "| x4 | bicubic |" in md and "| dark | lut3d |" in md and "zero-dce" in md
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "zero-dce" in proc.stderr and "readme.txt" in proc.stderr


def _independent_bicubic_x4(path: Path) -> float:
    """PSNR of bicubic x4 restoration computed with plain OpenCV/NumPy only.

    The enhancer resizes with torch's bicubic (a = -0.75, half-pixel centres, edges clamped); OpenCV's
    INTER_CUBIC on float32 is the same filter (checked: at most 1 of 255 on a rare rounding tie).
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    clean = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = clean.shape[:2]
    gt = clean[: h - h % 4, : w - w % 4]
    small = cv2.resize(gt, (gt.shape[1] // 4, gt.shape[0] // 4), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small.astype(np.float32) / 255, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_CUBIC)
    restored = np.clip(np.rint(up * 255), 0, 255).astype(np.uint8)
    mse = np.mean((gt.astype(np.float64) - restored) ** 2)
    return 10 * np.log10(255**2 / mse)


@needs_shared("weights/lut3d/LUTs.pth")
def test_bicubic_x4_psnr_matches_an_independent_computation(cli_run):
    folder, out, _ = cli_run
    rows = json.loads((out / "results.json").read_text())
    mine = {r["image"]: r["psnr"] for r in rows if (r["model"], r["degradation"]) == ("bicubic", "x4")}
    assert set(mine) == {"face.png", "rocket.jpg", "coins.png"}
    for name, value in mine.items():
        assert value == pytest.approx(_independent_bicubic_x4(folder / name), abs=0.05), name


@needs_shared("weights/lut3d/LUTs.pth", "weights/lut3d/classifier.pth")
def test_a_second_run_gives_the_same_numbers(cli_run):
    folder, out, _ = cli_run
    first = json.loads((out / "results.json").read_text())
    images, _ = folder_images(folder, max_size=0)
    tasks, _ = plan(parse_models("bicubic,lanczos,lut3d"), parse_degradations("x4,x2,dark"))
    second = run(tasks, images, device="cpu", precision="fp32").rows

    def scores(rows):
        return sorted((r["image"], r["degradation"], r["model"], r["psnr"], r["ssim"]) for r in rows)

    assert scores(second) == scores(first)


# -- video mode: clips, damages, the flicker metric, the command -----------------------------------


def _clip(frames: int = 6, pan=(2.0, 1.0), zoom: float = 1.0, size=(96, 64)) -> np.ndarray:
    """A small clip over the astronaut photo along a known camera path."""
    return render(np.ascontiguousarray(data.astronaut()), Motion("astronaut", pan, zoom, ""), frames, size)


def test_default_clips_have_the_documented_frames_size_and_motion():
    clips = default_clips()
    assert [c.name for c in clips] == list(MOTIONS) == [
        "astronaut-pan", "chelsea-zoom", "coffee-pan", "rocket-panzoom",
    ]  # fmt: skip
    assert CLIP_FRAMES == 12 and CLIP_SIZE == (384, 256)
    assert all(c.frames.shape == (12, 256, 384, 3) and c.frames.dtype == np.uint8 for c in clips)
    pan = clips[0].frames
    for t in range(11):  # the camera moves 3 px right, 1 px down: whole pixels, copied exactly
        assert np.array_equal(pan[t + 1][:-1, :-3], pan[t][1:, 3:])
    # the zoom: 1.5 % per frame about the centre, so a point 150 px right of it moves 2.25 px right
    zoom = measure_motion(clips[1].frames[:2])[0].flow
    right = np.median(zoom[100:156, 335:347, 0])  # around x = 191.5 + 150
    left = np.median(zoom[100:156, 36:48, 0])
    assert right == pytest.approx(2.25, abs=0.4) and left == pytest.approx(-2.25, abs=0.4)
    docs = (REPO / "docs" / "EVALUATION.md").read_text()
    assert all(m.description in docs and name in docs for name, m in MOTIONS.items())


def test_video_degradations():
    clip = _clip(frames=4, pan=(0.0, 0.0))  # a still camera: every frame the same
    assert [d.name for d in parse_video_degradations(None)] == ["x4", "x4+noise10", "x4+h264"]
    with pytest.raises(BadOption, match="allowed: x4, x4"):
        parse_video_degradations("x4,jpeg20")
    x4 = VIDEO_DEGRADATIONS["x4"].apply(clip)
    assert x4.shape == (4, 16, 24, 3) and np.array_equal(x4[0], downscale(clip[0], 4))
    noisy = VIDEO_DEGRADATIONS["x4+noise10"].apply(clip)
    assert not np.array_equal(noisy[0], noisy[1])  # fresh noise on every frame: temporal noise
    assert abs((noisy.astype(np.float64) - x4).std() - 10) < 1.5
    assert np.array_equal(noisy, VIDEO_DEGRADATIONS["x4+noise10"].apply(clip))
    coded = VIDEO_DEGRADATIONS["x4+h264"].apply(_clip(frames=4, size=(192, 128)))
    assert coded.shape == (4, 32, 48, 3)
    assert np.array_equal(coded, VIDEO_DEGRADATIONS["x4+h264"].apply(_clip(frames=4, size=(192, 128))))
    clean = VIDEO_DEGRADATIONS["x4"].apply(_clip(frames=4, size=(192, 128)))
    assert 20 < psnr(clean, coded) < 40  # visibly compressed, still the same picture


def test_warping_error_of_a_static_identical_output_is_zero():
    still = np.repeat(_clip(frames=1), 4, axis=0)
    motions = measure_motion(still)
    assert all(m.visible.all() and np.abs(m.flow).max() < 1e-3 for m in motions)
    assert warping_error(still, motions) == 0.0


def test_a_flickering_output_scores_higher_than_a_steady_one():
    clip = _clip(frames=6, pan=(2.0, 1.0))
    motions = measure_motion(clip)
    # the measured motion is the camera's: content moves 2 px left and 1 px up; what leaves is not compared
    flow = np.stack([m.flow for m in motions])
    assert np.median(flow[..., 0]) == pytest.approx(-2, abs=0.1)
    assert np.median(flow[..., 1]) == pytest.approx(-1, abs=0.1)
    assert not any(m.visible[:, :2].any() for m in motions)
    steady = warping_error(clip, motions)
    flicker = add_noise(clip, 8.0)  # fresh noise on every frame
    assert warping_error(flicker, motions) > 5 * steady
    # steadiness is judged along the motion: frames that do not follow the camera are not steady
    frozen = np.repeat(clip[:1], len(clip), axis=0)
    assert warping_error(frozen, motions) > 5 * steady
    with pytest.raises(ValueError):
        warping_error(clip[:3], motions)


def test_a_pair_across_a_scene_cut_is_not_compared():
    pan = _clip(frames=4)
    other = render(np.ascontiguousarray(data.coffee()), Motion("coffee", (1.0, 0.0), 1.0, ""), 4, (96, 64))
    cut = np.concatenate([pan, other])
    motions = measure_motion(cut)
    assert [m.visible.any() for m in motions] == [True, True, True, False, True, True, True]
    # the error is that of the two shots' own pairs; the jump between them is not flicker
    own = measure_motion(pan)[:3] + measure_motion(other)[:3]
    frames = [np.stack([a, b]) for a, b in zip(cut[:-1], cut[1:], strict=True)]
    expected = np.mean([warping_error(f, [m]) for f, m in zip(frames[:3] + frames[4:], own, strict=True)])
    assert warping_error(cut, motions) == pytest.approx(expected)


@needs_shared("weights/realesr-animevideov3.pth", "weights/temporalfix")
def test_video_plan_runs_every_upscaler_alone_and_with_each_temporal_stage():
    names = default_video_models()
    upscalers = [s.name for s in registry.all_specs() if s.task == "upscale"]
    assert names == [f"{u}{t}" for u in upscalers for t in ("", "+stabilize", "+temporalfix")]
    degs = parse_video_degradations(None)
    wanted = "bicubic,bicubic+stabilize,realesr-animevideov3+temporalfix,realesrgan-x2plus+stabilize,lut3d"
    tasks, skipped = plan(parse_models(wanted), degs, catalogue=VIDEO_DEGRADATIONS)
    assert _fits(tasks) == {
        "bicubic": ["x4", "x4+noise10", "x4+h264"],
        "bicubic+stabilize": ["x4", "x4+noise10", "x4+h264"],
        "realesr-animevideov3+temporalfix": ["x4", "x4+noise10", "x4+h264"],
    }
    assert all(t.options == {"scale": 4} for t in tasks if t.model.startswith("bicubic"))
    reasons = {s.name: s.reason for s in skipped}
    assert set(reasons) == {"realesrgan-x2plus+stabilize", "lut3d"}
    assert "scale x2" in reasons["realesrgan-x2plus+stabilize"]


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """Clean clips: a pan and a still (6 frames, 96x64), plus a text file and a one-frame video."""
    folder = tmp_path_factory.mktemp("videos")
    write_clip(_clip(frames=6), folder / "pan.mkv")
    write_clip(np.repeat(_clip(frames=1), 6, axis=0), folder / "still.mkv")
    write_clip(_clip(frames=1), folder / "one.mkv")
    (folder / "notes.txt").write_text("not a video")
    return folder


def test_cli_videos_folder_scores_sharpness_and_flicker(video_folder, tmp_path, fresh_registry):
    out = tmp_path / "out"
    args = ["--videos", str(video_folder), "--frames", "4", "--out", str(out)]
    args += ["--models", "bicubic,bicubic+stabilize", "--degradations", "x4,x4+noise10", "--device", "cpu"]
    result = CliRunner().invoke(evaluate_command, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())
    got = {(r["clip"], r["degradation"], r["model"]): r for r in rows}
    models = [ORIGINAL, "bicubic", "bicubic+stabilize"]
    assert set(got) == {
        (c, d, m) for c in ("pan.mkv", "still.mkv") for d in ("x4", "x4+noise10") for m in models
    }
    assert all((r["frames"], r["width"], r["height"]) == (4, 96, 64) for r in rows)
    assert got["pan.mkv", "x4", ORIGINAL]["psnr"] is None  # infinite: the original against itself
    # a still camera and a steady model: identical output frames, no flicker at all
    assert got["still.mkv", "x4", "bicubic"]["warp_error"] == 0.0
    noisy = got["still.mkv", "x4+noise10", "bicubic"]
    assert noisy["warp_error"] > 0 and noisy["psnr"] < got["still.mkv", "x4", "bicubic"]["psnr"]
    assert got["still.mkv", "x4+noise10", "bicubic+stabilize"]["warp_error"] < noisy["warp_error"]
    for key, r in got.items():
        assert r["warp_error"] >= 0 and (key[2] == ORIGINAL or 15 < r["psnr"] < 60), key
    skipped = {(s["what"], s["name"]) for s in json.loads((out / "skipped.json").read_text())}
    assert skipped == {("video", "notes.txt"), ("video", "one.mkv")}
    md = (out / "results.md").read_text()
    assert "| x4+noise10 | bicubic+stabilize |" in md and "| x4 | original (ground truth) | – | – |" in md
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "one.mkv" in result.stderr and "fewer than 2 frames" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--videos", "{tmp}/missing"], "not a folder"),
        (["--videos", "{tmp}/junk"], "no usable videos in"),
        (["--video", "--degradations", "x4,blur"], "unknown video degradation"),
        (["--video", "--images", "{tmp}/junk"], "--images scores images"),
        (["--video", "--models", "bicubc"], "bicubc"),
    ],
)
def test_cli_video_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in args] + ["--out", str(out)]
    result = CliRunner().invoke(evaluate_command, argv)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not out.exists()
