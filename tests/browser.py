"""Driving the studio in headless Chromium: the server fixture, screenshots and waiting helpers.

The studio is served by `streamlit run app.py` on a free loopback port, in the test's workspace;
Debian's chromium is driven by Playwright, which never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}
SHOT_MAX_HEIGHT = 2400  # screenshots show the whole page up to this height (keeps the PNGs small)
STEP = 60_000  # ms: one page or rerun, generous for a busy 2-core machine
GENERIC_ERROR = "Something went wrong on this page"

expect.set_options(timeout=STEP)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def studio_url(tmp_path):
    """The studio served on a free loopback port, in this test's workspace (TLSTUDIO_HOME); its address."""
    assert os.environ.get("TLSTUDIO_HOME"), "conftest's workspace fixture must have run"
    port = _free_port()
    log_path = tmp_path / "streamlit.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"streamlit exited early:\n{log_path.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"streamlit did not answer:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.25)  # polling the health endpoint, not waiting for the page
        yield url
    finally:
        _cancel_active_runs()  # a failed test must not leave a training worker behind
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        print(f"--- streamlit log (tail) ---\n{log_path.read_text(errors='replace')[-4000:]}")


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A page in headless Chromium (downloads allowed, STEP for each wait); the browser is closed after."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
            context.set_default_timeout(STEP)
            yield context.new_page()
        finally:
            browser.close()


def _cancel_active_runs() -> None:
    from tlcore.jobs import runs
    from tlcore.rundir import RunDir

    for row in runs.list_runs():
        if row["state"] in ("queued", "running"):
            RunDir(row["path"]).request_cancel()


class Shots:
    """Full-page screenshots into pytest's tmp folder and, if set, $STUDIO_SCREENSHOTS."""

    def __init__(self, page: Page, folder: Path):
        self.page, self.folder = page, folder
        self.extra = Path(os.environ["STUDIO_SCREENSHOTS"]) if os.environ.get("STUDIO_SCREENSHOTS") else None
        self.taken: list[Path] = []

    def __call__(self, name: str) -> None:
        page = self.page
        settle(page)
        page.mouse.move(1, 1)  # no hover tooltip or focus ring in the picture
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        expect(page.get_by_test_id("stTooltipContent")).to_have_count(0)
        page.evaluate("() => document.fonts.ready")
        # Streamlit scrolls its main area, not the document: grow the window to the content instead.
        height = page.evaluate("""() => {
            const main = document.querySelector('[data-testid="stMain"]');
            if (main) main.scrollTop = 0;
            return Math.max(main ? main.scrollHeight : 0, document.documentElement.scrollHeight);
        }""")
        page.set_viewport_size({"width": VIEWPORT["width"],
                                "height": max(VIEWPORT["height"], min(int(height), SHOT_MAX_HEIGHT))})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        path = self.folder / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        page.set_viewport_size(VIEWPORT)
        self.taken.append(path)
        if self.extra:
            self.extra.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, self.extra / path.name)


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the current rerun, and check that it showed no error."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.locator('[data-stale="true"]')).to_have_count(0)  # faded leftovers of the previous run
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text(GENERIC_ERROR)).to_have_count(0)


def go(page: Page, slug: str, title: str) -> None:
    """Open a page through the sidebar's navigation (keeps the session) and wait for its title. The
    run the last action started ends first: a link clicked while a save's rerun was drawing was lost once."""
    settle(page)
    links = page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink")
    links.and_(page.locator(f'[href="{slug}"], [href$="/{slug}"]')).click()
    expect(page.get_by_role("heading", name=title, exact=False).first).to_be_visible(timeout=STEP)


def open_tab(page: Page, name: str) -> None:
    """Click the tab ``name`` and wait for the rerun it starts (a keyed st.tabs reruns on a change): a
    file set on an uploader during that rerun can be lost with the element the rerun replaces."""
    page.get_by_role("tab", name=name).click()
    settle(page)
    expect(page.get_by_role("tab", selected=True)).to_have_text(name)


def plots(page: Page, within: str = "") -> Locator:
    """The plotly charts on the page, or inside the element matched by ``within``."""
    return page.locator(f"{within} .js-plotly-plot".strip())


def open_advanced(page: Page) -> None:
    """Open the Strategy page's Advanced settings, unless this session left them open. While the
    page redraws, the old expander can show beside the new one for a moment (a click then finds
    two): the click waits until there is one, and is tried again after a redraw."""
    settle(page)
    epochs = page.locator(".st-key-opt_epochs").get_by_role("spinbutton")
    advanced = page.get_by_test_id("stExpander").get_by_text("Advanced settings")
    for attempt in range(3):
        if epochs.is_visible():
            break
        try:
            expect(advanced).to_have_count(1)
            advanced.click()
            expect(epochs).to_be_visible(timeout=5000)
        except (AssertionError, PlaywrightError):
            if attempt == 2:
                raise
            settle(page)
    expect(epochs).to_be_visible()


def quick_settings(page: Page, epochs: int, pixels: int | None = 64) -> None:
    """Under Strategy's Advanced settings (open): ``epochs`` epochs on ``pixels``-pixel images, no early
    stop; a text run (``pixels`` None) has no image size. The image size is the model's own until its
    checkbox is cleared; then a field in pixels shows."""
    fields = [("opt_epochs", epochs), ("opt_early_stopping", 0)]
    if pixels is not None:
        own = page.locator(".st-key-image_size_own")
        if own.get_by_role("checkbox").is_checked():  # a second visit finds it cleared already
            own.get_by_text("image size").click()
            settle(page)
        expect(own.get_by_role("checkbox")).not_to_be_checked()
        fields.insert(1, ("image_size_pixels", pixels))
    for key, value in fields:
        box = page.locator(f".st-key-{key}").get_by_role("spinbutton")
        box.fill(str(value))
        box.press("Enter")
        settle(page)
        expect(box).to_have_value(str(value))


def frozen_quick_strategy(page: Page) -> None:
    """Strategy: a frozen network (0 trainable stages), 2 epochs on 64-pixel images, no early stop."""
    go(page, "strategy", "How much of the network to retrain")
    slider = page.locator(".st-key-opt_stages").get_by_role("slider")
    slider.focus()
    slider.press("Home")
    expect(slider).to_have_value("0")
    open_advanced(page)
    quick_settings(page, 2)
