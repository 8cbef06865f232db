"""The web page in real headless Chromium against real gunicorn: upload, watch, compare, download, cancel.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package (no browser
download: Playwright drives the system Chromium). Screenshots land in ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import REPO
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


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for the README, as a dithered 256-colour PNG so the repo stays small."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.wait_for_timeout(1000)  # a screenshot, not an assertion: Chromium's video controls fade in
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
