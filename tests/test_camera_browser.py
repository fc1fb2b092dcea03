"""The live camera in a real browser: Chromium's fake camera plays a video the test makes.

Two classes a camera tells apart at a glance: a red disc and a blue disc on grey. The first
browser's camera shows the red disc: on the Data page a burst of pictures is recorded into 'red'
(one bad picture removed), the blue pictures are uploaded, the bundled model trains (frozen, 64
pixels, 2 epochs), and the Use page's live camera says 'red'. A second browser, whose camera shows
the blue disc, opens the same model and sees 'blue' (Chromium plays one video per launch, looping).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from browser import (CHROMIUM, CHROMIUM_ARGS, STEP, VIEWPORT, frozen_quick_strategy, go, settle,  # noqa: F401
                     studio_url)
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright
from test_e2e_browser import TRAINING

FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
COLOURS = {"red": (210, 30, 30), "blue": (30, 50, 210)}
W, H, FPS = 320, 240, 15
RECORDED = 6  # pictures in the burst; one is then removed
UPLOADED = 6  # blue pictures uploaded
COMPONENT = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
    # On a 2-core machine, on 2026-12-01: 1 of 6 runs passed early on (before the restarts below),
    # then 4 of 5, then 5 of 5 (about 51 s each); the failures seen: a click lost in a redraw, a
    # stalled burst, the live stream dropping by itself, and once no 'Start' button after 'Stop'.
    # The test starts a dropped stream again, as a user would.
]


def disc(colour: str, step: int) -> np.ndarray:
    """A frame: a disc of ``colour`` on grey, moved a little with ``step`` (so no two are copies)."""
    yy, xx = np.mgrid[0:H, 0:W]
    cx, cy = W / 2 + 30 * np.cos(step / 5), H / 2 + 20 * np.sin(step / 7)
    frame = np.full((H, W, 3), 128, np.uint8)
    frame[(xx - cx) ** 2 + (yy - cy) ** 2 < (H / 3) ** 2] = COLOURS[colour]
    return frame


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = FPS) -> Path:
    """A YUV4MPEG2 video (4:2:0, full-range BT.601 as JPEG has it) for Chromium's fake camera."""
    h, w, _ = frames[0].shape
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            f.write(b"FRAME\n")
            for plane in (y, *(c.reshape(h // 2, 2, w // 2, 2).mean((1, 3)) for c in (u, v))):  # 4:2:0
                f.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path


def _browser(pw, video: Path):
    return pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=[*CHROMIUM_ARGS, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"])


def _page(browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP)
    return context.new_page()


def _start_camera(page: Page) -> None:
    page.frame_locator(COMPONENT).get_by_role("button", name="Start the camera").click()
    expect(page.frame_locator(COMPONENT).get_by_role("button", name="Stop the camera")).to_be_visible()


def _stop_camera(page: Page) -> None:
    """Stop the camera as a user would, so the server ends its side of the stream now."""
    page.frame_locator(COMPONENT).get_by_role("button", name="Stop the camera").click()
    try:
        expect(page.frame_locator(COMPONENT).get_by_role("button", name="Start the camera")).to_be_visible()
    except AssertionError:
        frames = page.locator(COMPONENT)
        print(f"--- after Stop: {frames.count()} camera frame(s), box {frames.first.bounding_box()}, showing:\n"
              f"{page.frame_locator(COMPONENT).locator('body').inner_html(timeout=5000)[:3000]}")
        raise
    settle(page)


def test_record_a_burst_train_and_see_the_live_answer(studio_url, tmp_path):  # noqa: F811
    red = write_y4m(tmp_path / "red.y4m", [disc("red", i) for i in range(2 * FPS)])
    blue = write_y4m(tmp_path / "blue.y4m", [disc("blue", i) for i in range(2 * FPS)])
    uploads = []
    for i in range(UPLOADED):
        uploads.append(tmp_path / f"blue-{i}.png")
        Image.fromarray(disc("blue", 3 * i)).save(uploads[-1])
    lap = Laps()
    with sync_playwright() as pw:
        browser = _browser(pw, red)
        try:
            page = _page(browser)
            page.goto(studio_url)
            expect(page.get_by_role("heading", name="Your images")).to_be_visible()
            lap("first page")
            _record_red_upload_blue(page, uploads, lap)
            frozen_quick_strategy(page)
            lap("strategy set")
            go(page, "train", "Train")
            page.get_by_role("button", name="Start training").click()
            page.mouse.move(1, 1)  # the button's tooltip would cover the sidebar
            expect(page.get_by_text("Training finished and the model is saved.")).to_be_visible(timeout=TRAINING)
            lap("trained")
            _live_answer(page, "red", freeze=True, lap=lap)
        finally:
            browser.close()
        browser = _browser(pw, blue)
        try:
            page = _page(browser)
            page.goto(studio_url)
            _live_answer(page, "blue", freeze=False, lap=lap)
        finally:
            browser.close()
    print(lap.report())


class Laps:
    """Seconds each step took, for the test's report (CI runs it on 2 busy cores)."""

    def __init__(self) -> None:
        self.last, self.steps = time.monotonic(), []

    def __call__(self, step: str) -> None:
        now = time.monotonic()
        self.steps.append(f"{step} {now - self.last:.1f} s")
        self.last = now

    def report(self) -> str:
        return "Camera test steps: " + ", ".join(self.steps)


def _record_red_upload_blue(page: Page, uploads: list[Path], lap: Laps) -> None:
    page.get_by_role("tab", name="Class by class").click()
    names = page.get_by_role("textbox", name="Class names, separated by commas")
    names.fill("red, blue")
    names.press("Enter")
    settle(page)
    page.get_by_test_id("stFileUploader").filter(has_text="Images of 'blue'").locator(
        "input[type=file]").set_input_files(uploads)
    settle(page)
    switch = page.locator(".st-key-burst_on")
    for _ in range(3):  # a click that lands while the upload's redraw replaces the switch is lost
        switch.get_by_text("Record bursts with the live camera").click()
        settle(page)
        if switch.locator("input[type=checkbox]").is_checked():
            break
    expect(page.locator(".st-key-burst_every")).to_be_visible()
    for key, value in (("burst_every", 150), ("burst_limit", RECORDED)):
        box = page.locator(f".st-key-{key}").get_by_role("spinbutton")
        box.fill(str(value))
        box.press("Enter")
        settle(page)
    lap("classes typed, blue uploaded, burst set")
    recorded, restarts = _record_burst(page)
    lap(f"camera started, burst recorded (camera restarted {restarts}x)")
    expect(page.get_by_role("button", name="Remove", exact=True)).to_have_count(recorded)
    page.get_by_role("button", name="Remove", exact=True).first.click()
    expect(_pictures(page)).to_contain_text(f"({recorded - 1})")
    expect(page.get_by_text(f"Images of 'red' (plus {recorded - 1} snapshots)")).to_be_visible()
    _stop_camera(page)
    page.get_by_role("button", name="Save these images as a dataset").click()
    total = recorded - 1 + UPLOADED
    expect(page.get_by_text(f"Saved: 'my images' with 2 classes and {total} usable images.")).to_be_visible()
    lap("frame removed, dataset saved")


def _pictures(page: Page):
    """The heading of the recorded pictures, with their count."""
    return page.get_by_text(re.compile(r"^Camera pictures of 'red' \(\d+\)"))


def _record_burst(page: Page) -> tuple[int, int]:
    """Record into 'red' until a burst has stopped by itself at RECORDED pictures. On a busy
    machine the stream sometimes drops (the page keeps what came before) or stalls: then the
    camera is stopped and started again and one more burst recorded, as a user would. The
    pictures kept, and the restarts."""
    pictures = _pictures(page)
    record = page.get_by_role("button", name="Record into 'red'")
    camera = page.frame_locator(COMPONENT)
    restarts, armed, count, deadline = -1, False, 0, time.monotonic() + 3 * STEP / 1000
    since = time.monotonic()  # the last camera start or Record click
    while True:
        assert time.monotonic() < deadline, f"the burst did not reach {RECORDED} pictures ({count})"
        if camera.get_by_role("button", name="Start the camera").is_visible():
            restarts, armed, since = restarts + 1, True, time.monotonic()
            _start_camera(page)
        elif record.is_visible():
            try:
                count = int(re.search(r"\((\d+)\)", pictures.inner_text(timeout=1000))[1]) if pictures.count() else 0
            except PlaywrightError:  # drawn again while read
                count = -1
            if count >= RECORDED:
                break
            if armed:  # one burst per camera start: the page may redraw before it shows the pictures
                record.click()
                armed, since = False, time.monotonic()
        if time.monotonic() - since > 20:  # a burst takes about a second: the stream stalled
            stop = camera.get_by_role("button", name="Stop the camera")
            if stop.is_visible():
                stop.click()
            since = time.monotonic()
        page.wait_for_timeout(250)
    if restarts == 0:
        assert count == RECORDED  # an unbroken burst stops by itself at the count
    return count, restarts



def _live_answer(page: Page, expected: str, freeze: bool, lap: Laps) -> None:
    """The Use page's live camera names ``expected``; with ``freeze``, a frozen frame gets its heatmap."""
    go(page, "use", "Use your model")
    page.get_by_role("tab", name="Camera").click()
    page.get_by_text("Classify the live camera").click()
    settle(page)
    _start_camera(page)
    answer = page.locator(".st-key-live_answer")
    verdict = re.compile(rf"^{expected} \(\d+% sure\)$")
    restarts, deadline, since = 0, time.monotonic() + 2 * STEP / 1000, None
    try:
        while True:  # a live answer, held for 3 s; a stream that dropped on the busy machine is started again
            assert time.monotonic() < deadline, f"no steady live answer '{expected}' (camera restarted {restarts}x)"
            start = page.frame_locator(COMPONENT).get_by_role("button", name="Start the camera")
            if start.is_visible():
                restarts += 1
                start.click()
            try:  # the fragment redraws every 0.3 s: an element read may find it gone
                heading = answer.get_by_role("heading").first.inner_text(timeout=1000).strip()
            except PlaywrightError:
                heading = ""
            if verdict.match(heading) and answer.get_by_test_id("stProgress").count() == 2:  # a bar per class
                since = since or time.monotonic()
                if time.monotonic() - since > 3:  # a few seconds of answers, for the rate the page shows
                    break
            else:
                since = None
            page.wait_for_timeout(250)
        lap(f"live answer '{expected}'")
        expect(answer).to_contain_text("answers a second")
        print(f"Live answer '{expected}': {answer.inner_text().splitlines()[-1]} (camera restarted {restarts}x)")
    except AssertionError:
        print(f"--- the page when the live answer failed ---\n{page.get_by_test_id('stMain').inner_text()}")
        raise
    if freeze:
        page.get_by_role("button", name="Freeze this frame and show where the model looked").click()
        expect(page.get_by_text(re.compile(rf"^Frozen frame: {expected} \(\d+% sure\)$"))).to_be_visible()
        expect(page.locator(".st-key-live_gradcam .js-plotly-plot")).to_be_visible()
        lap("frozen frame with Grad-CAM")
    _stop_camera(page)
