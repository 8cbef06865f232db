"""The web page in real headless Chromium against real gunicorn: upload, watch, compare, download, cancel.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package (no browser
download: Playwright drives the system Chromium). Screenshots land in ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import REPO, needs_shared
from tests.media import make_video
from tests.server import Server

CHROMIUM = Path(os.environ.get("ENHANCE_TEST_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The README's screenshots are refreshed only on request (ENHANCE_SAVE_SCREENSHOTS=1), so a test run
# leaves the work tree clean; otherwise they go to a temporary folder and are still checked.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("ENHANCE_SAVE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="enhance-screenshots-"))
)
MAX_SCREENSHOT_BYTES = 300_000
KEYS = "web-key-one,web-key-two"
INTERLACE_PHOTO = "media/fivek_a1629.jpg"  # tests/test_interlace.py pans over it

if os.environ.get("CI") and not CHROMIUM.exists():
    raise RuntimeError(
        f"CI must install Debian's chromium ({CHROMIUM} is missing)"
    )  # never skip silently in CI
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class Console:
    """Console errors and uncaught exceptions of a page; some tests expect a logged 4xx."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def unexpected(self, *allowed_statuses: int) -> list[str]:
        """Errors except Chromium's own 'Failed to load resource' notes for the given HTTP statuses."""
        notes = tuple(f"the server responded with a status of {s}" for s in allowed_statuses)
        return [e for e in self.errors if not (notes and any(n in e for n in notes))]


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console = Console(page)
    yield page
    context.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", width=64, height=48, frames=8)


def open_page(page, url: str) -> None:
    """Load the page and wait until the models are in the selector."""
    page.goto(url)
    expect(page.locator("#model option[value='lut3d']")).to_be_enabled()


def videos_loaded(page) -> None:
    """Wait until both videos of the before/after view have a frame to show."""
    page.wait_for_function(
        "() => { const v = document.querySelectorAll('#compare video');"
        " return v.length === 2 && [...v].every(x => x.readyState >= 4 && !x.seeking); }"
    )


def screenshot(page, name: str, element: str | None = None) -> Path:
    """Save a screenshot (the full page, or one element) for the README, as a dithered 256-colour PNG."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.wait_for_timeout(1000)  # a screenshot, not an assertion: Chromium's video controls fade in
    if element:
        page.locator(element).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as shot:
        rgb = shot.convert("RGB")
    palette = rgb.quantize(256)
    rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{name} is {path.stat().st_size} bytes"
    return path


def current_job_id(page) -> str:
    """The job the page shows (it keeps it in the URL fragment)."""
    page.wait_for_function("() => location.hash.startsWith('#job=')")
    return page.evaluate("location.hash").removeprefix("#job=")


def test_upload_watch_compare_download(server, page, clip, tmp_path):
    open_page(page, server.url + "/")
    # models that cannot run here are listed, disabled, with the reason
    missing = page.locator("#model option[value='realesrgan-x4plus']")
    expect(missing).to_be_disabled()
    expect(missing).to_contain_text("weights missing")
    expect(page.locator("#model option[value='mirnetv2-denoise']")).to_contain_text("non-commercial")

    page.set_input_files("#file", str(clip))
    expect(page.locator("#file-name")).to_contain_text("clip.mp4")
    page.select_option("#model", "lut3d")
    page.click("button[type=submit]")
    expect(page.locator("#job-progress")).to_be_visible()
    job_id = current_job_id(page)

    download = page.locator("#download")
    expect(download).to_be_visible()
    assert download.get_attribute("href") == f"/jobs/{job_id}/result"
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator("#job-progress-text")).to_contain_text("Done: 8 frames")
    assert page.eval_on_selector("#job-progress", "p => p.value") == 1
    expect(page.locator("#compare video")).to_have_count(2)
    videos_loaded(page)
    sizes = page.eval_on_selector_all("#compare video", "vs => vs.map(v => [v.videoWidth, v.videoHeight])")
    assert sizes == [[64, 48], [64, 48]]

    # the result drives (play button, position slider); the original follows it
    page.eval_on_selector("#seek", "s => { s.value = '0.3'; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#before-slot video').currentTime - 0.3) < 0.01"
    )
    page.click("#play")
    page.wait_for_function("() => !document.querySelector('#before-slot video').paused")
    page.click("#play")
    page.wait_for_function("() => document.querySelector('#before-slot video').paused")

    # the download link gives the same bytes as the API
    with page.expect_download() as info:
        download.click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert info.value.suggested_filename == "clip-lut3d.mp4"
    assert saved.read_bytes() == requests.get(f"{server.url}/jobs/{job_id}/result", timeout=30).content

    # the recent-jobs list shows it, newest first, with its status and links
    first = page.locator("#jobs li").first
    expect(first).to_contain_text("succeeded")
    expect(first).to_contain_text("clip.mp4")
    assert first.locator("a", has_text="Download").get_attribute("href") == f"/jobs/{job_id}/result"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "page-1280.png")
    assert page.console.unexpected() == []

    # at 400 px: one column, no sideways scrolling; the "before" now comes from the server
    page.set_viewport_size({"width": 400, "height": 900})
    page.reload()
    expect(page.locator("#download")).to_be_visible()
    videos_loaded(page)
    assert page.eval_on_selector("#before-slot video", "v => v.currentSrc").endswith(f"/jobs/{job_id}/input")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    screenshot(page, "page-400.png")
    assert page.console.unexpected() == []


def test_non_video_upload_shows_the_server_detail(server, page):
    text = "this is a text file, not a video\n" * 40
    expected = requests.post(
        server.url + "/enhance", files={"file": ("notes.mp4", text)}, data={"model": "lut3d"}, timeout=30
    )
    assert expected.status_code == 422
    open_page(page, server.url + "/")
    # dropped on the drop zone rather than picked: the drag-and-drop path
    page.evaluate(
        """([name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, {type: "video/mp4"}));
            const drop = new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true});
            document.getElementById("drop-zone").dispatchEvent(drop);
        }""",
        ["notes.mp4", text],
    )
    expect(page.locator("#file-name")).to_contain_text("notes.mp4")
    page.select_option("#model", "lut3d")
    page.click("button[type=submit]")
    expect(page.locator("#form-error")).to_have_text(expected.json()["detail"])
    expect(page.locator("#job")).to_be_hidden()
    assert page.console.unexpected(422) == []


def test_cancel_from_the_page(server, page, tmp_path):
    long_clip = make_video(tmp_path / "long.mp4", width=160, height=120, frames=400, audio=None)
    open_page(page, server.url + "/")
    page.set_input_files("#file", str(long_clip))
    page.select_option("#model", "realesr-animevideov3")
    page.click("button[type=submit]")
    job_id = current_job_id(page)
    # running, with frames, speed and time left shown as text
    expect(page.locator("#job-progress-text")).to_contain_text("fps", timeout=60_000)
    expect(page.locator("#job-progress-text")).to_contain_text("ETA")
    assert 0 < page.eval_on_selector("#job-progress", "p => p.value") < 1
    page.click("#cancel")
    expect(page.locator("#job-status")).to_have_text("canceled")
    assert server.job(job_id)["status"] == "canceled"
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator(f"#jobs li[data-id='{job_id}']")).to_contain_text("canceled")
    assert page.console.unexpected() == []


def test_input_route_ranges_and_unknown_job(server, clip):
    job = server.submit(clip, model="lut3d").json()
    url = f"{server.url}/jobs/{job['id']}/input"
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == clip.read_bytes()
    assert whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in whole.headers["Content-Security-Policy"]
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206 and part.content == clip.read_bytes()[10:20]
    missing = requests.get(f"{server.url}/jobs/nope/input", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith(
        "application/problem+json"
    )
    server.wait_status(job["id"], ("succeeded",), 60)


def test_keyed_server_page_uses_the_key(browser, clip, tmp_path):
    keyed = Server(tmp_path / "keyed", env={"ENHANCE_API_KEYS": KEYS}).start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        console = Console(page)
        page.goto(keyed.url + "/")
        # the page itself is open; the API asks for the key, and the page says so
        expect(page.locator("#form-error")).to_contain_text("API key")
        page.fill("#api-key", "web-key-one")
        page.press("#api-key", "Enter")
        page.locator("#api-key").blur()
        expect(page.locator("#model option[value='lut3d']")).to_be_enabled()
        page.set_input_files("#file", str(clip))
        page.select_option("#model", "lut3d")
        page.click("#preview")
        job_id = current_job_id(page)
        expect(page.locator("#download")).to_be_visible(timeout=60_000)
        # media cannot send the header: they come as blobs fetched with it
        assert page.locator("#download").get_attribute("href").startswith("blob:")
        videos_loaded(page)
        assert page.evaluate("localStorage.getItem('video-enhance.api-key')") == "web-key-one"
        doc = requests.get(
            f"{keyed.url}/jobs/{job_id}", headers={"Authorization": "Bearer web-key-one"}, timeout=10
        ).json()
        assert doc["options"]["frames"] == 24  # the preview button asks for the first second
        # the original upload obeys the same rules as the API: no key 401, another key's job 404
        url = f"{keyed.url}/jobs/{job_id}/input"
        assert requests.get(url, timeout=10).status_code == 401
        other = requests.get(url, headers={"Authorization": "Bearer web-key-two"}, timeout=10)
        assert other.status_code == 404
        mine = requests.get(url, headers={"Authorization": "Bearer web-key-one"}, timeout=10)
        assert mine.status_code == 200 and mine.content == clip.read_bytes()
        # a reload remembers the key and shows the job again, the original now fetched with the key
        page.reload()
        expect(page.locator("#download")).to_be_visible()
        videos_loaded(page)
        assert page.eval_on_selector("#before-slot video", "v => v.currentSrc").startswith("blob:")
        assert console.unexpected(401) == []
        page.close()
    finally:
        keyed.stop()


def test_page_needs_no_other_origin(server):
    html = requests.get(server.url + "/", timeout=10)
    assert html.status_code == 200
    assert "default-src 'self'" in html.headers["Content-Security-Policy"]
    assert "://" not in html.text
    for asset in ("app.js", "style.css"):
        body = requests.get(f"{server.url}/static/{asset}", timeout=10)
        assert body.status_code == 200, asset
        assert "://" not in body.text, asset


# window.BA(): the [before, after] videos of the comparison
BA_JS = "window.BA = () => ['#before-slot video', '#after-slot video'].map(s => document.querySelector(s))"


def box(page, selector: str) -> dict:
    """The element's rectangle in CSS pixels, relative to the viewport."""
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }",
    )


def slot_at(page, x: float, y: float) -> str:
    """Which layer of the before/after view is on top at a point: before-slot or after-slot."""
    return page.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y); const s = e && e.closest('.layer');"
        " return s ? s.id : (e ? e.id || e.tagName : ''); }",
        [x, y],
    )


def test_wipe_zoom_trimmed_original_and_estimate(server, page, tmp_path):
    # 2 s at 24 fps: the preview (24 frames) is its first second
    clip = make_video(tmp_path / "wide.mp4", width=160, height=120, frames=48, fps=24)
    open_page(page, server.url + "/")
    page.set_input_files("#file", str(clip))
    page.select_option("#model", "bicubic")
    page.click("#preview")
    job_id = current_job_id(page)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    videos_loaded(page)
    page.evaluate(BA_JS)
    sizes = page.evaluate("() => BA().map(v => [v.videoWidth, v.videoHeight])")
    assert sizes == [[160, 120], [640, 480]]  # before, after (x4)
    rendering = page.eval_on_selector("#before-slot video", "v => getComputedStyle(v).imageRendering")
    assert rendering == "pixelated"
    expect(page.locator("#download")).to_have_text("Download wide-bicubic.mp4")

    # after the preview: the whole video's time at the measured speed, said to be an estimate
    doc = server.job(job_id)
    assert doc["input"]["frames"] == 48 and doc["progress"]["frames_done"] == 24 and doc["progress"]["fps"]
    estimate = page.locator("#job-estimate")
    expect(estimate).to_contain_text("Estimate for the whole video (48 frames")
    seconds = float(re.search(r"about ([\d.]+) s ", estimate.inner_text()).group(1))
    assert seconds == pytest.approx(48 / doc["progress"]["fps"], abs=0.6)

    # the divider dragged to a quarter: the original shows left of it, the result right of it
    stage = box(page, "#stage")
    divider = box(page, "#divider")
    mid_y = stage["y"] + stage["h"] / 2
    assert divider["x"] + divider["w"] / 2 == pytest.approx(stage["x"] + stage["w"] / 2, abs=2)
    page.mouse.move(divider["x"] + divider["w"] / 2, mid_y + 40)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["w"] * 0.4, mid_y, steps=4)
    page.mouse.move(stage["x"] + stage["w"] * 0.25, mid_y, steps=4)
    page.mouse.up()
    assert int(page.get_attribute("#divider", "aria-valuenow")) == pytest.approx(25, abs=1)
    divider = box(page, "#divider")
    assert divider["x"] + divider["w"] / 2 == pytest.approx(stage["x"] + stage["w"] * 0.25, abs=2)
    assert slot_at(page, stage["x"] + stage["w"] * 0.15, mid_y) == "before-slot"
    assert slot_at(page, stage["x"] + stage["w"] * 0.35, mid_y) == "after-slot"
    assert slot_at(page, stage["x"] + stage["w"] * 0.9, mid_y) == "after-slot"
    page.focus("#divider")
    page.keyboard.press("ArrowRight")  # the divider is a keyboard slider too
    assert int(page.get_attribute("#divider", "aria-valuenow")) == pytest.approx(27, abs=1)

    # one frame for both: a seek of the result moves the original to the same time
    page.eval_on_selector("#seek", "s => { s.value = '0.5'; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function(
        "() => { const [b, a] = BA();"
        " return !a.seeking && !b.seeking && Math.abs(a.currentTime - 0.5) < 0.01"
        " && Math.abs(b.currentTime - a.currentTime) < 1 / 24; }"
    )

    # the original is trimmed to the result: the slider spans the result, and playing across the end loops
    # both back to the start; the original never plays past the result's length
    durations = page.evaluate("() => BA().map(v => v.duration)")
    assert durations[0] == pytest.approx(2.0, abs=0.1) and durations[1] == pytest.approx(1.0, abs=0.1)
    assert float(page.get_attribute("#seek", "max")) == pytest.approx(durations[1], abs=1e-6)
    page.evaluate(
        """() => { const [b, a] = BA();
            window.beforeMax = 0; window.looped = false;
            b.addEventListener('timeupdate', () => {
                window.beforeMax = Math.max(window.beforeMax, b.currentTime); });
            a.currentTime = a.duration - 0.15;
            a.addEventListener('seeking', () => { if (a.currentTime < 0.5) window.looped = true; }); }"""
    )
    page.click("#play")
    page.wait_for_function("() => window.looped && BA()[1].currentTime > 0.2")
    page.click("#play")
    page.wait_for_function("() => document.querySelector('#before-slot video').paused")
    assert page.evaluate("window.beforeMax") <= durations[1] + 1 / 24
    assert page.eval_on_selector("#before-slot video", "v => v.currentTime") < 0.9

    # 1:1: one screen pixel per pixel of the result, the original stretched to the same box
    page.click("[data-zoom='1']")
    expect(page.locator("[data-zoom='1']")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("devicePixelRatio") == 1
    for layer in ("#after-slot video", "#before-slot video"):
        rendered = box(page, layer)
        assert (rendered["w"], rendered["h"]) == (640, 480), layer
    after_rendering = "v => getComputedStyle(v).imageRendering"
    assert page.eval_on_selector("#after-slot video", after_rendering) == "auto"  # its own pixels, unscaled
    # 2:1 is larger than the view: grabbing the picture pans it
    page.click("[data-zoom='2']")
    assert (box(page, "#after-slot video")["w"], box(page, "#after-slot video")["h"]) == (1280, 960)
    # enlarged, the result too is drawn pixel by pixel, not smoothed
    page.wait_for_function("() => getComputedStyle(BA()[1]).imageRendering === 'pixelated'")
    view = box(page, "#wipe")
    start = page.eval_on_selector("#wipe", "v => [v.scrollLeft, v.scrollTop]")
    overflow = "v => v.scrollWidth > v.clientWidth && v.scrollHeight > v.clientHeight"
    assert page.eval_on_selector("#wipe", overflow)
    x, y = view["x"] + view["w"] * 0.8, view["y"] + view["h"] * 0.6
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 150, y - 60, steps=5)
    page.mouse.up()
    moved = page.eval_on_selector("#wipe", "v => [v.scrollLeft, v.scrollTop]")
    assert moved == [start[0] + 150, start[1] + 60]
    assert int(page.get_attribute("#divider", "aria-valuenow")) == pytest.approx(27, abs=1)  # panning only

    # the README's picture: 1:1, divider in the middle, paused on a frame
    page.click("[data-zoom='1']")
    page.focus("#divider")
    page.keyboard.press("End")
    for _ in range(25):
        page.keyboard.press("ArrowLeft")
    page.eval_on_selector("#seek", "s => { s.value = '0.5'; s.dispatchEvent(new Event('input')); }")
    videos_loaded(page)
    page.locator("#divider").blur()
    screenshot(page, "compare-wipe.png", element="#job")
    assert page.console.unexpected() == []


def test_every_model_described_options_as_fields_and_crf_per_codec(server, page, clip):
    models = requests.get(server.url + "/models", timeout=10).json()
    open_page(page, server.url + "/")
    # every model, with its description, visible under the selector
    items = page.locator("#model-list li")
    expect(items).to_have_count(len(models))
    for model in models:
        item = page.locator(f"#model-list li[data-model='{model['name']}']")
        expect(item.locator(".model-desc")).to_have_text(model["description"])
        expect(item).to_be_visible()
    page.click("#model-list li[data-model='nlmeans'] .model-name")
    assert page.eval_on_selector("#model", "s => s.value") == "nlmeans"
    expect(page.locator("#model-list li.selected")).to_have_attribute("data-model", "nlmeans")

    # the selected model's options, one input each, named as the form field; only filled ones are sent
    nlmeans = next(m for m in models if m["name"] == "nlmeans")
    strength = page.locator("#option-strength")
    expect(strength).to_be_visible()
    assert strength.get_attribute("name") == "strength"
    assert strength.get_attribute("placeholder") == f"{nlmeans['options']['strength']['default']} (default)"
    expect(page.locator("#option-strength-hint")).to_contain_text(
        nlmeans["options"]["strength"]["description"]
    )
    page.select_option("#model", "bicubic")
    expect(page.locator("#option-strength")).to_have_count(0)
    expect(page.locator("#option-scale")).to_be_visible()
    page.select_option("#model", "lut3d")
    expect(page.locator("#model-options")).to_be_hidden()
    page.select_option("#model", "bicubic")
    page.fill("#option-scale", "2")
    sent = []

    def capture(route):
        sent.append(route.request.post_data_buffer)
        route.fulfill(
            status=400,
            content_type="application/problem+json",
            body='{"type": "/problems/bad-option", "title": "Bad option", "status": 400, "detail": "stub"}',
        )

    page.route("**/enhance", capture)
    page.set_input_files("#file", str(clip))
    page.click("button[type=submit]")
    expect(page.locator("#form-error")).to_have_text("stub")
    body = sent[0]
    assert b'name="scale"\r\n\r\n2\r\n' in body and b'name="model"\r\n\r\nbicubic\r\n' in body
    assert b'name="strength"' not in body and b'name="crf"' not in body  # empty fields are not sent
    # the codec is the server's choice unless picked (HDR input gets 10-bit H.265, which "h264" would refuse)
    assert b'name="codec"' not in body

    # CRF: 0-51 for H.264/H.265, 0-63 for VP9, none for lossless FFV1; each with the server's default
    expect(page.locator("#crf-hint")).to_have_text("0–51, lower is better (default 16; HDR input 20)")
    for codec, top, default in (("h264", "51", 16), ("h265", "51", 20), ("vp9", "63", 31)):
        page.select_option("#codec", codec)
        assert page.get_attribute("#crf", "max") == top
        expect(page.locator("#crf")).to_be_enabled()
        expect(page.locator("#crf-hint")).to_have_text(f"0–{top}, lower is better (default {default})")
    page.select_option("#codec", "ffv1")
    expect(page.locator("#crf")).to_be_disabled()
    expect(page.locator("#crf-hint")).to_contain_text("lossless")
    assert page.console.unexpected(400) == []


def test_docs_is_an_explorer_served_from_this_origin(server, page):
    spec = requests.get(server.url + "/openapi.json", timeout=10).json()
    # one block per operation (a path's shared "parameters" is not one)
    operations = sum(1 for item in spec["paths"].values() for key in item if key != "parameters")
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None)
    page.goto(server.url + "/docs")
    expect(page.locator(".opblock")).to_have_count(operations)
    expect(page.locator(".opblock-post .opblock-summary-path").first).to_have_text("/enhance")
    # a job's example answer is there to read
    page.click(".opblock-get:has(.opblock-summary-path[data-path='/jobs/{job_id}']) .opblock-summary")
    example = page.locator(".opblock.is-open .response .microlight").first
    expect(example).to_contain_text('"status": "succeeded"')
    assert outside == []
    assert page.console.unexpected() == []


@needs_shared(INTERLACE_PHOTO, "weights/lut3d/LUTs.pth")
def test_deinterlace_field_from_the_page(server, page, tmp_path):
    from tests.test_interlace import FIELDS, pan_frames, weave, write

    clip = write(tmp_path / "tv.mp4", weave(pan_frames()), 25, flagged=True)
    open_page(page, server.url + "/")
    page.set_input_files("#file", str(clip))
    page.select_option("#model", "lut3d")
    page.select_option("#deinterlace", "field")
    page.click("button[type=submit]")
    job_id = current_job_id(page)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#job-summary")).to_contain_text("deinterlaced (field: one frame per field)")
    doc = server.job(job_id)
    assert doc["options"]["deinterlace"] == "field"
    assert doc["input"]["deinterlaced"] == {"mode": "field", "parity": "tff"}
    assert doc["progress"]["frames_done"] == FIELDS  # one frame per field: twice the woven frames
    assert page.console.unexpected() == []


def test_page_says_when_the_default_model_has_no_weights(server, page):
    """A newcomer without weights is told why the default model is not selected (and how to fetch it)."""
    models = requests.get(server.url + "/models", timeout=10).json()
    default = "realesr-animevideov3"  # the server's default model (ENHANCE_DEFAULT_MODEL is not set)
    for model in models:
        if model["name"] == default:
            model.update(ready=False, fetch=f"flask weights download {default}")

    page.route("**/models", lambda route: route.fulfill(json=models))
    page.goto(server.url + "/")
    notice = page.locator("#model-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(f"default model {default} is not available")
    expect(notice).to_contain_text(f"flask weights download {default}")
    selected = page.eval_on_selector("#model", "s => s.value")
    assert selected and selected != default
    expect(notice).to_contain_text(f"{selected} is selected instead")
    page.unroute("**/models")
    open_page(page, server.url + "/")  # with its weights there, the default is selected and nothing is said
    assert page.eval_on_selector("#model", "s => s.value") == default
    expect(notice).to_be_hidden()


def test_a_temporal_stage_is_chosen_after_the_model(server, page, clip):
    """The page offers the temporal stages GET /models lists as a second step: the job runs the chain."""
    open_page(page, server.url + "/")
    steady = page.locator("#steady option")
    expect(steady.filter(has_text="stabilize")).to_have_count(1)
    expect(steady.filter(has_text="temporalfix")).to_have_count(1)
    page.set_input_files("#file", str(clip))
    page.select_option("#model", "lut3d")
    page.select_option("#steady", "stabilize")
    page.click("button[type=submit]")
    job_id = current_job_id(page)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    assert server.job(job_id)["model"] == "lut3d+stabilize"
    page.select_option("#model", "stabilize")  # a temporal stage ends a chain: nothing can follow it
    expect(page.locator("#steady")).to_be_disabled()
    assert page.console.unexpected() == []
