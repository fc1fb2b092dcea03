"""End to end in a real browser: the studio served by `streamlit run app.py`, driven by headless Chromium.

Uploads a zip of class folders, keeps the bundled model, trains for 2 epochs with 0 trainable
stages, watches the charts, opens Evaluate and downloads the model bundle, taking a screenshot of
each main page on the way. Screenshots go to pytest's tmp folder, and also to $STUDIO_SCREENSHOTS
when it is set; `STUDIO_SCREENSHOTS=assets python -m pytest tests/test_e2e_browser.py` refreshes
the README's pictures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from datasets import FASHION_CLASSES, fashion_mnist, pick_per_class, write_class_folders
from playwright.sync_api import Locator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}
SHOT_MAX_HEIGHT = 2400  # screenshots show the whole page up to this height (keeps the PNGs small)
CLASSES = [0, 1, 7]  # t-shirt, trouser, sneaker
PER_CLASS = 8
STEP = 60_000  # ms: one page or rerun, generous for a busy 2-core machine
TRAINING = 240_000  # ms: starting the worker and 2 epochs on the CPU
GENERIC_ERROR = "Something went wrong on this page"

expect.set_options(timeout=STEP)
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")


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


def _cancel_active_runs() -> None:
    from tlcore import runs
    from tlcore.rundir import RunDir

    for row in runs.list_runs():
        if row["state"] in ("queued", "running"):
            RunDir(row["path"]).request_cancel()


@pytest.fixture
def fashion_zip(tmp_path) -> Path:
    """A zip of 3 Fashion-MNIST class folders x 8 real PNG images, inside a wrapper folder."""
    x, y = fashion_mnist("train")
    folder = write_class_folders(tmp_path / "zip-src" / "fashion-e2e", x, y, FASHION_CLASSES,
                                 pick_per_class(y, PER_CLASS, CLASSES))
    path = tmp_path / "fashion-e2e.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for image in sorted(folder.rglob("*.png")):
            zf.write(image, image.relative_to(folder.parent).as_posix())
    return path


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
    """Open a page through the sidebar's navigation (keeps the session) and wait for its title."""
    page.locator(f'[data-testid="stSidebarNavLink"][href$="/{slug}"]').click()
    expect(page.get_by_role("heading", name=title, exact=False).first).to_be_visible(timeout=STEP)


def plots(page: Page, within: str = "") -> Locator:
    """The plotly charts on the page, or inside the element matched by ``within``."""
    return page.locator(f"{within} .js-plotly-plot".strip())


def test_upload_train_evaluate_and_download_in_a_browser(studio_url, fashion_zip, tmp_path):
    shots_dir = tmp_path / "screenshots"
    shots_dir.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
            context.set_default_timeout(STEP)
            page = context.new_page()
            shot = Shots(page, shots_dir)
            _flow(page, studio_url, fashion_zip, shot, tmp_path)
        finally:
            browser.close()
    assert [p.name for p in shot.taken] == [f"{n}.png" for n in (
        "01-data", "02-model", "03-strategy", "04-train", "05-evaluate", "06-use", "07-runs")]
    assert all(p.stat().st_size > 10_000 for p in shot.taken)


def _flow(page: Page, url: str, zip_path: Path, shot: Shots, tmp_path: Path) -> None:
    sidebar = page.get_by_test_id("stSidebar")

    # Data: upload the zip, import it and see the audit.
    page.goto(url)
    expect(page.get_by_role("heading", name="Your images")).to_be_visible(timeout=STEP)
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Zip file")
    uploader.locator("input[type=file]").set_input_files(zip_path)
    expect(uploader).to_contain_text("fashion-e2e.zip")
    page.get_by_role("button", name="Import this zip").click()
    expect(page.get_by_text("Imported: 'fashion-e2e' with 3 classes and 24 usable images.")).to_be_visible(
        timeout=STEP)
    expect(page.get_by_role("heading", name="Check of 'fashion-e2e'")).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Classes").get_by_test_id("stMetricValue")).to_have_text("3")
    expect(metrics.filter(has_text="Usable images").get_by_test_id("stMetricValue")).to_have_text("24")
    expect(page.get_by_text("Class 'sneaker' has 8 images")).to_be_visible()
    for name in ("t-shirt", "trouser", "sneaker"):
        expect(page.get_by_text(f"{name} · 8 images")).to_be_visible()
    expect(page.get_by_role("heading", name="Image sizes")).to_be_visible()
    expect(plots(page)).to_have_count(2)  # images per class, image sizes
    expect(sidebar).to_contain_text("Images: fashion-e2e (3 classes, 24 images)")
    page.get_by_role("heading", name="Check of 'fashion-e2e'").scroll_into_view_if_needed()
    shot("01-data")

    # Model: the bundled EfficientNet-Lite0 is ready offline; pick another, then pick it back.
    go(page, "model", "Choose a pretrained model")
    lite0 = page.locator(".st-key-use_efficientnet_lite0").get_by_role("button")
    card = page.get_by_test_id("stColumn").filter(has=lite0)
    expect(card.get_by_role("heading")).to_contain_text("EfficientNet-Lite0")
    expect(card).to_contain_text("Ready: weights included, works offline")
    expect(lite0).to_have_text("Chosen")  # the default
    page.locator(".st-key-use_resnet18").get_by_role("button").click()
    expect(sidebar).to_contain_text("Model: ResNet-18", timeout=STEP)
    expect(lite0).to_have_text("Use this model")
    lite0.click()
    expect(lite0).to_have_text("Chosen", timeout=STEP)
    expect(lite0).to_be_disabled()
    expect(sidebar).to_contain_text("Model: EfficientNet-Lite0")
    shot("02-model")

    # Strategy: 0 trainable stages; 2 epochs and 64-pixel images under Advanced.
    go(page, "strategy", "How much of the network to retrain")
    stages = page.locator(".st-key-opt_stages").get_by_role("slider")
    expect(stages).to_be_visible()
    learning = page.get_by_test_id("stMetric").filter(has_text="Parameters that will learn").get_by_test_id(
        "stMetricValue")
    stages.focus()
    stages.press("ArrowRight")  # the last stage too...
    expect(stages).to_have_value("1")
    expect(learning).not_to_have_text("3,843")
    stages.press("Home")  # ...then none: only the new final layer learns
    expect(stages).to_have_value("0")
    expect(learning).to_have_text("3,843")  # 1280 features x 3 classes + 3 biases
    page.get_by_test_id("stExpander").get_by_text("Advanced settings").click()
    epochs = page.locator(".st-key-opt_epochs").get_by_role("spinbutton")
    epochs.fill("2")
    epochs.press("Enter")
    expect(page.get_by_text("Set under Advanced: 2 passes over your images (epochs).")).to_be_visible(
        timeout=STEP)
    size = page.locator(".st-key-opt_image_size").get_by_role("spinbutton")
    size.fill("64")
    size.press("Enter")
    settle(page)
    expect(size).to_have_value("64")
    shot("03-strategy")

    # Train: start, wait for the run to finish and the charts to show.
    go(page, "train", "Train")
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text("fashion-e2e on EfficientNet-Lite0: train the last 0 of")
    expect(main).to_contain_text("for 2 epochs, images at 64 pixels")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Training finished and the model is saved.")).to_be_visible(timeout=TRAINING)
    expect(page.get_by_role("heading", name=re.compile(r"^Run .+: Finished$"))).to_be_visible()
    expect(plots(page).nth(3)).to_be_visible(timeout=STEP)  # at least 4 charts
    for title in ("Loss", "Accuracy", "Precision", "Recall", "Recall of each class (held-out images)"):
        expect(page.locator(".js-plotly-plot .gtitle", has_text=re.compile(f"^{re.escape(title)}$"))).to_have_count(1)
    expect(sidebar).to_contain_text(re.compile(r"Run: \S+ — finished"))
    run_name = re.search(r"Run (\S+): Finished", main.inner_text()).group(1)
    shot("04-train")

    # Evaluate: scores and the confusion matrix of the run just trained.
    page.get_by_role("link", name="See how good it is").click()
    expect(page.get_by_role("heading", name="How good is the model?")).to_be_visible(timeout=STEP)
    expect(page.get_by_role("combobox", name="Trained model")).to_have_value(re.compile(f"^{re.escape(run_name)} "))
    # one score: 24 images under a frozen network are cross-validated, with an interval
    expect(page.get_by_role("heading", name=re.compile(
        r"^\d{1,3}%, likely between \d{1,3}% and \d{1,3}% \(\d-fold cross-validation on 24 images\)$"))).to_be_visible()
    accuracy = page.get_by_test_id("stMetric").filter(has_text="Accuracy").get_by_test_id("stMetricValue")
    expect(accuracy).to_have_text(re.compile(r"^\d{1,3}\.\d%$"))
    expect(page.get_by_role("heading", name="Which classes get mixed up")).to_be_visible()
    confusion = plots(page, ".st-key-confusion_counts")
    expect(confusion).to_be_visible()
    expect(confusion.locator(".xtitle")).to_have_text("model's answer")
    expect(confusion.locator(".ytitle")).to_have_text("true class")
    expect(confusion.locator("g.xtick").first).to_be_visible()
    assert sorted(set(confusion.locator("g.xtick").all_text_contents())) == ["sneaker", "t-shirt", "trouser"]
    assert sorted(set(confusion.locator("g.ytick").all_text_contents())) == ["sneaker", "t-shirt", "trouser"]
    expect(page.get_by_role("heading", name="Scores per class")).to_be_visible()
    shot("05-evaluate")

    # Use & export: classify one image, then download the model bundle.
    go(page, "use", "Use your model")
    image = next((zip_path.parent / "zip-src" / "fashion-e2e" / "trouser").glob("*.png"))
    classify = page.get_by_test_id("stFileUploader").filter(has_text="Images to classify")
    classify.locator("input[type=file]").set_input_files(image)
    answer = page.get_by_role("heading", name=re.compile(r"^(Not sure — maybe )?(t-shirt|trouser|sneaker) \(\d+% sure\)$"))
    expect(answer).to_be_visible(timeout=STEP)
    expect(plots(page, ".st-key-top_upload")).to_be_visible()
    shot("06-use")
    page.get_by_role("tab", name="Download the model").click()
    bundle_button = page.get_by_role("button", name="Download the model bundle (.zip)")
    expect(bundle_button).to_be_visible()
    with page.expect_download(timeout=STEP) as download:
        bundle_button.click()
    assert download.value.suggested_filename == f"{run_name}-bundle.zip"
    saved = tmp_path / "bundle.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        names = zf.namelist()
        assert sorted(Path(n).name for n in names) == ["model.json", "model.safetensors"], names
        meta = json.loads(zf.read(next(n for n in names if n.endswith("model.json"))))
        assert zf.getinfo(next(n for n in names if n.endswith("model.safetensors"))).file_size > 1_000_000
    assert meta["classes"] == ["sneaker", "t-shirt", "trouser"]
    assert meta["model"] == "efficientnet_lite0" and meta["image_size"] == 64

    # Runs: the run is listed and its curves can be compared.
    go(page, "runs", "All runs")
    expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Runs to compare")).to_contain_text(run_name)
    expect(plots(page, ".st-key-compare_curves")).to_be_visible(timeout=STEP)
    expect(page.get_by_role("heading", name="Open, label or repeat a run")).to_be_visible()
    shot("07-runs")
