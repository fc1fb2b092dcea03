"""End to end in a real browser: the studio served by `streamlit run app.py`, driven by headless Chromium.

A new user's first hour: the first paint shows the studio's steps; on the Data page a class is
renamed without losing its images, a zip is imported and a second action keeps its section; the
bundled model trains for 2 epochs with 0 trainable stages; Evaluate, Use (download the bundle) and
Runs follow; the Runs row, Evaluate and the sidebar give the same score. A model whose weights are
not on the computer says so before it is picked; the progress bar moves within 5 s of Start, and one
Stop control shows. Then a longer fine-tune survives a reload (the run's own settings, the Strategy
choices kept) and Stop ends it within 10 s; Use keeps the model picked on Evaluate, naming the newer
stopped one; and a Stop during cross-validation ends that run within 10 s. A screenshot of each main
page is taken on the way, into pytest's tmp folder and also $STUDIO_SCREENSHOTS when it is set:
`STUDIO_SCREENSHOTS=assets python -m pytest tests/test_e2e_browser.py` refreshes the README's pictures.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser import (CHROMIUM, ROOT, STEP, Shots, chromium_page, go, open_advanced, open_tab, plots,  # noqa: F401
                     quick_settings, settle, studio_url)
from datasets import FASHION_CLASSES, fashion_mnist, pick_per_class, write_class_folders
from playwright.sync_api import Page, expect

from pages.nav import STEPS

CLASSES = [0, 1, 7]  # t-shirt, trouser, sneaker
PER_CLASS = 8
TRAINING = 240_000  # ms: starting the worker and 2 epochs on the CPU
STOP_SECONDS = 10  # from the click on Stop to the run shown as stopped
MOVES_SECONDS = 5  # from the click on Start to the progress bar above 0%
MODULES = {p.stem for p in (ROOT / "pages").glob("*.py")} - {name for name, _, _ in STEPS}  # helpers' names
THIS_RUN = re.compile(r"This run: fine-tunes the last 1 of 7 stages of EfficientNet-Lite1, 200 epochs, "
                      r"images at 64 pixels, on this computer's processor \(CPU\)\.")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")]


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


def test_a_new_users_first_hour_in_a_browser(studio_url, fashion_zip, tmp_path):  # noqa: F811
    shots_dir = tmp_path / "screenshots"
    shots_dir.mkdir()
    with chromium_page() as page:
        shot = Shots(page, shots_dir)
        _first_paint(page, studio_url)
        _data(page, fashion_zip, shot)
        _model(page, shot)
        _strategy(page, shot, stages=0, epochs=2)
        run_id = _train(page, shot)
        _evaluate(page, shot)
        _use(page, shot, fashion_zip, run_id, tmp_path)
        score = _runs(page, shot)
        _reload_then_stop(page)
        _use_keeps_the_pick(page, score)
        _stop_during_cross_validation(page)
    assert [p.name for p in shot.taken] == [f"{n}.png" for n in (
        "01-data", "02-model", "03-strategy", "04-train", "05-evaluate", "06-use", "07-runs")]
    assert all(p.stat().st_size > 10_000 for p in shot.taken)


def _words(page: Page) -> set[str]:
    return set(re.findall(r"\w+", page.get_by_test_id("stSidebar").inner_text()))


def _first_paint(page: Page, url: str) -> None:
    """A fresh server's first visit: the studio's seven steps, never the modules of pages/."""
    started = time.monotonic()
    page.goto(url)
    links = page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink")
    expect(links).to_have_count(len(STEPS), timeout=STEP)
    steps_shown = time.monotonic() - started
    assert not _words(page) & MODULES, _words(page)
    assert [t.strip().splitlines()[-1] for t in links.all_inner_texts()] == [title for _, title, _ in STEPS]
    expect(page.get_by_role("heading", name="Your images")).to_be_visible(timeout=STEP)
    assert not _words(page) & MODULES, _words(page)
    print(f"First visit: steps shown after {steps_shown:.1f} s, the Data page after {time.monotonic() - started:.1f} s")


def _data(page: Page, zip_path: Path, shot: Shots) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    # Class by class: renaming "car" to "vehicle" keeps the images chosen for it.
    open_tab(page, "Class by class")
    names = page.get_by_role("textbox", name="Class names, separated by commas")
    names.fill("car, boat")
    names.press("Enter")
    settle(page)
    images = sorted((zip_path.parent / "zip-src" / "fashion-e2e" / "sneaker").glob("*.png"))[:3]
    page.get_by_test_id("stFileUploader").filter(has_text="Images of 'car'").locator(
        "input[type=file]").set_input_files(images)
    settle(page)
    names.fill("vehicle, boat")
    names.press("Enter")
    settle(page)
    vehicle = page.get_by_test_id("stFileUploader").filter(has_text="Images of 'vehicle'")
    for image in images:
        expect(vehicle).to_contain_text(image.name)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Class by class")

    # Zip: import, then a second action (open it again from Earlier datasets) keeps its section.
    open_tab(page, "Zip of class folders")
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Zip file")
    uploader.locator("input[type=file]").set_input_files(zip_path)
    expect(uploader).to_contain_text("fashion-e2e.zip")
    settle(page)
    page.get_by_role("button", name="Import this zip").click()
    expect(page.get_by_text("Imported: 'fashion-e2e' with 3 classes and 24 usable images.")).to_be_visible(
        timeout=STEP)
    page.get_by_role("tab", name="Earlier datasets").click()
    settle(page)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Earlier datasets")
    expect(page.get_by_role("button", name="Open this dataset")).to_be_visible()
    page.get_by_role("button", name="Open this dataset").click()
    expect(page.get_by_text(re.compile(r"^Opened: 'fashion-e2e'"))).to_be_visible(timeout=STEP)
    settle(page)  # the message comes first; the check below it is still the import's until the run ends
    expect(page.get_by_role("tab", selected=True)).to_have_text("Earlier datasets")

    expect(page.get_by_role("heading", name="Check of 'fashion-e2e'")).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Classes").get_by_test_id("stMetricValue")).to_have_text("3")
    expect(metrics.filter(has_text="Usable images").get_by_test_id("stMetricValue")).to_have_text("24")
    expect(page.get_by_text("have 8 images each")).to_have_count(1)  # one grouped warning, not three
    for name in ("t-shirt", "trouser", "sneaker"):
        expect(page.get_by_text(f"{name} · 8 images")).to_be_visible()
    expect(page.get_by_role("heading", name="Image sizes")).to_be_visible()
    expect(plots(page)).to_have_count(2)  # images per class, image sizes
    expect(sidebar).to_contain_text("Images: fashion-e2e (3 classes, 24 images)")
    page.get_by_role("heading", name="Check of 'fashion-e2e'").scroll_into_view_if_needed()
    shot("01-data")


def _model(page: Page, shot: Shots) -> None:
    """The bundled EfficientNet-Lite1 is ready offline; pick another, then pick it back."""
    sidebar = page.get_by_test_id("stSidebar")
    go(page, "model", "Choose a pretrained model")
    lite1 = page.locator(".st-key-use_efficientnet_lite1").get_by_role("button")
    card = page.get_by_test_id("stColumn").filter(has=lite1)
    expect(card.get_by_role("heading")).to_contain_text("EfficientNet-Lite1")
    expect(card).to_contain_text("Ready: weights included, works offline")
    expect(lite1).to_have_text("Chosen")  # the default
    # Weights that would need a download are said missing on the card, before any click.
    resnet = page.get_by_test_id("stColumn").filter(has=page.locator(".st-key-use_resnet18"))
    missing = re.compile(r"Weights (missing, and this computer is offline|not on this computer yet)")
    expect(resnet).to_contain_text(missing)
    page.locator(".st-key-use_efficientnet_lite0").get_by_role("button").click()
    expect(sidebar).to_contain_text("Model: EfficientNet-Lite0", timeout=STEP)
    expect(lite1).to_have_text("Use this model")
    lite1.click()
    expect(lite1).to_have_text("Chosen", timeout=STEP)
    expect(lite1).to_be_disabled()
    expect(sidebar).to_contain_text("Model: EfficientNet-Lite1")
    shot("02-model")


def _strategy(page: Page, shot: Shots | None, stages: int, epochs: int) -> None:
    """Trainable stages, then epochs, 64-pixel images and no early stop under Advanced."""
    go(page, "strategy", "How much of the network to retrain")
    slider = page.locator(".st-key-opt_stages").get_by_role("slider")
    expect(slider).to_be_visible()
    slider.focus()
    slider.press("Home")
    for _ in range(stages):
        slider.press("ArrowRight")
    expect(slider).to_have_value(str(stages))
    if stages == 0:
        learning = page.get_by_test_id("stMetric").filter(has_text="Parameters that will learn")
        expect(learning.get_by_test_id("stMetricValue")).to_have_text("3,843")  # 1280 features x 3 + 3 biases
    open_advanced(page)
    quick_settings(page, epochs)
    expect(page.get_by_text(f"Set under Advanced: {epochs} passes over your images (epochs).")).to_be_visible()
    for key in ("Home", "ArrowRight") if stages else ("ArrowRight", "Home"):  # the model choice comes and goes
        slider.press(key)
        settle(page)
    expect(slider).to_have_value(str(stages))
    expect(page.locator(".st-key-opt_epochs").get_by_role("spinbutton")).to_be_visible()  # Advanced stayed open
    if shot:
        shot("03-strategy")


def _train(page: Page, shot: Shots) -> str:
    """Start, wait for the run to finish and the charts to show; the run's folder name."""
    sidebar, main = page.get_by_test_id("stSidebar"), page.get_by_test_id("stMain")
    go(page, "train", "Train")
    expect(main).to_contain_text("fashion-e2e: keeps EfficientNet-Lite1 as it is and trains only a new last layer")
    expect(main).to_contain_text("2 epochs, images at 64 pixels")
    page.get_by_role("button", name="Start training").click()
    _bar_moves_and_one_stop(page)
    expect(page.get_by_text("Training finished and the model is saved.")).to_be_visible(timeout=TRAINING)
    title = "fashion-e2e · Lite1 · last layer only"
    expect(page.get_by_role("heading", name=f"Run {title}: Finished")).to_be_visible()
    expect(plots(page).nth(3)).to_be_visible(timeout=STEP)  # at least 4 charts
    for name in ("Loss", "Accuracy", "Precision", "Recall", "Recall of each class (held-out images)"):
        expect(page.locator(".js-plotly-plot .gtitle", has_text=re.compile(f"^{re.escape(name)}$"))).to_have_count(1)
    expect(sidebar).to_contain_text(f"Run: {title} — Finished")
    shot("04-train")
    return parse_qs(urlparse(page.url).query)["run"][0]


def _bar_moves_and_one_stop(page: Page) -> None:
    """Right after Start: the progress bar leaves 0% within MOVES_SECONDS, and only the run's own
    Stop button shows (never Streamlit's beside it)."""
    started = time.monotonic()
    bar = page.get_by_test_id("stProgress").get_by_role("progressbar")
    expect(bar).not_to_have_attribute("aria-valuenow", re.compile(r"^0?$"), timeout=MOVES_SECONDS * 1000)
    print(f"Start to a moving progress bar: {time.monotonic() - started:.1f} s")
    stops = page.get_by_role("button", name=re.compile(r"^Stop$"))
    expect(stops.filter(visible=True)).to_have_count(1)


def _evaluate(page: Page, shot: Shots) -> None:
    page.get_by_role("button", name="See how good it is").click()
    expect(page.get_by_role("heading", name="How good is the model?")).to_be_visible(timeout=STEP)
    expect(page.get_by_role("combobox", name="Trained model")).to_have_value(
        re.compile(r"^fashion-e2e · Lite1 · last layer only · "))
    # one score: 24 images under a frozen network are cross-validated, with an interval
    expect(page.get_by_role("heading", name=re.compile(
        r"^\d{1,3}%, likely between \d{1,3}% and \d{1,3}% \(24 images, each checked by a model trained without it\)$"))).to_be_visible()
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


def _use(page: Page, shot: Shots, zip_path: Path, run_id: str, tmp_path: Path) -> None:
    """Classify one image (the top class: "not sure" is off by default), then download the model bundle."""
    go(page, "use", "Use your model")
    image = next((zip_path.parent / "zip-src" / "fashion-e2e" / "trouser").glob("*.png"))
    classify = page.get_by_test_id("stFileUploader").filter(has_text="Images to classify")
    classify.locator("input[type=file]").set_input_files(image)
    # The model's default "not sure" threshold is off: the answer is the top class, never "Not sure".
    answer = page.get_by_role("heading", name=re.compile(r"^(t-shirt|trouser|sneaker) \(\d+% sure\)$"))
    expect(answer).to_be_visible(timeout=STEP)
    expect(page.get_by_text("Every answer is the model's top class, with its probability").first).to_be_visible()
    expect(page.get_by_text(re.compile("^Not sure — maybe"))).to_have_count(0)
    expect(plots(page, ".st-key-top_upload")).to_be_visible()
    shot("06-use")
    page.get_by_role("tab", name="Download the model").click()
    bundle_button = page.get_by_role("button", name="Download the model bundle (.zip)")
    expect(bundle_button).to_be_visible()
    with page.expect_download(timeout=STEP) as download:
        bundle_button.click()
    assert download.value.suggested_filename == f"{run_id}-bundle.zip"
    saved = tmp_path / "bundle.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        names = zf.namelist()
        assert sorted(Path(n).name for n in names) == ["model.json", "model.safetensors"], names
        meta = json.loads(zf.read(next(n for n in names if n.endswith("model.json"))))
        assert zf.getinfo(next(n for n in names if n.endswith("model.safetensors"))).file_size > 1_000_000
    assert meta["classes"] == ["sneaker", "t-shirt", "trouser"] and meta["image_size"] == 64


def _runs(page: Page, shot: Shots) -> str:
    """The run is listed under its readable name and its curves can be compared; its row's score is the
    one Evaluate and the sidebar show. The score, as shown."""
    score = page.get_by_test_id("stSidebar").get_by_text(re.compile(r"^Run: .* — Finished · "))
    expect(score).to_be_visible()
    shown = score.inner_text().split(" — Finished · ", 1)[1].strip()
    go(page, "evaluate", "How good is the model?")
    score_heading = re.compile(rf"^{re.escape(shown.split()[0])}, likely between")
    expect(page.get_by_role("heading", name=score_heading)).to_be_visible()
    go(page, "runs", "All runs")
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text(shown)
    expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Runs to compare")).to_contain_text(
        "fashion-e2e · Lite1 · last layer only")
    expect(plots(page, ".st-key-compare_curves")).to_be_visible(timeout=STEP)
    expect(page.get_by_role("heading", name="Open, label or repeat a run")).to_be_visible()
    shot("07-runs")
    return shown


def _reload_then_stop(page: Page) -> None:
    """A long fine-tune: a reload while it trains shows the run's own settings and keeps the Strategy
    choices; Stop then ends it within STOP_SECONDS, saying what it saves meanwhile."""
    _strategy(page, None, stages=1, epochs=200)
    go(page, "train", "Train")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Run .+: Training$"))).to_be_visible(timeout=STEP)
    page.reload()  # a new browser session: nothing but the workspace remembers the choices
    expect(page.get_by_role("heading", name=re.compile(r"^Run .+: Training$"))).to_be_visible(timeout=STEP)
    # The charts show once an epoch is recorded, its checkpoint behind it: a Stop from then on keeps
    # a model (a Stop during epoch 1 keeps none). The reload left no charts of the earlier run.
    expect(plots(page).first).to_be_visible(timeout=TRAINING)
    expect(page.get_by_test_id("stMain")).to_contain_text(THIS_RUN)
    go(page, "strategy", "How much of the network to retrain")
    expect(page.locator(".st-key-opt_stages").get_by_role("slider")).to_have_value("1")
    open_advanced(page)
    expect(page.locator(".st-key-opt_epochs").get_by_role("spinbutton")).to_have_value("200")
    go(page, "train", "Train")
    expect(page.get_by_role("heading", name=re.compile(r"^Run .+: Training$"))).to_be_visible()
    _stop_within(page, "Stop")
    expect(page.get_by_text(re.compile(r"^Stopped; the best model so far \(epoch \d+\) was kept"))).to_be_visible()


def _use_keeps_the_pick(page: Page, score: str) -> None:
    """The model picked on Evaluate (the finished one) stays the one Use uses; the newer stopped run is
    named, not switched to."""
    go(page, "evaluate", "How good is the model?")
    picked = page.get_by_role("combobox", name="Trained model")
    expect(picked).to_have_value(re.compile(rf"^fashion-e2e · Lite1 · last layer only · {re.escape(score)}"))
    go(page, "use", "Use your model")
    expect(page.get_by_role("combobox", name="Trained model")).to_have_value(
        re.compile(rf"^fashion-e2e · Lite1 · last layer only · {re.escape(score)}"))
    expect(page.get_by_text("A newer model is not used unless you pick it above:")).to_be_visible()


def _stop_during_cross_validation(page: Page) -> None:
    """A frozen run of many epochs is cross-validated; Stop while it is ends the run within STOP_SECONDS."""
    _strategy(page, None, stages=0, epochs=1000)
    go(page, "train", "Train")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_test_id("stProgress")).to_contain_text("ross-validation", timeout=TRAINING)
    _stop_within(page, "Stop during cross-validation")


def _stop_within(page: Page, what: str) -> None:
    """Click the run's Stop; the run shows as stopped within STOP_SECONDS."""
    stop = page.get_by_test_id("stMain").get_by_role("button", name="Stop", exact=True)
    started = time.monotonic()
    stop.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Run .+: Stopped$"))).to_be_visible(
        timeout=STOP_SECONDS * 1000)
    took = time.monotonic() - started
    print(f"{what} to Stopped: {took:.1f} s")
    assert took <= STOP_SECONDS
