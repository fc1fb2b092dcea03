"""A text project end to end in a real browser: the studio served by `streamlit run app.py`, driven by
headless Chromium, as the image flow is (tests/test_e2e_browser.py).

A table of shop reviews is uploaded on the Data page through its file input; its columns cannot be
guessed, so the text and label columns are picked; the check quotes a short text holding HTML and
Markdown as written. The bundled sentence encoder is the model; Strategy keeps it frozen and trains a
new last layer for a few epochs; Train shows its charts and finishes; Evaluate shows the one score.
On Use a typed text gets its classes' probabilities; the ONNX zip (model.onnx with tokenizer.json) and
the model card are downloaded: the card's own script, run with onnxruntime on the downloaded files,
gives the page's probabilities, and the card names the classes and the score Evaluate showed.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from browser import (CHROMIUM, STEP, chromium_page, go, open_advanced, open_tab, plots, quick_settings,  # noqa: F401
                     settle, studio_url)
from playwright.sync_api import Page, expect
from text_fixtures import REVIEWS
from tokenizers import Tokenizer

CLASSES = ["complaint", "praise", "question"]
MARKUP = "<b>Broken</b> **twice**"  # fewer than 3 words: the check quotes it, as written
ROWS = REVIEWS + [("The zip on my coat broke after one wash.", "complaint"),
                  ("I was charged twice and support ignored me.", "complaint"),
                  (MARKUP, "complaint"),
                  ("Wonderful service, I will order again soon.", "praise"),
                  ("The shoes fit perfectly and look beautiful.", "praise"),
                  ("Friendly staff and a very easy return.", "praise"),
                  ("Is this jacket available in a larger size?", "question"),
                  ("When will the blue mug be back in stock?", "question"),
                  ("Do you offer gift wrapping for birthdays?", "question")]
# The shop's replies are about as long as the reviews: which column holds the texts cannot be told.
REPLIES = ["Thank you for writing; our team answers within two days.", "We passed your note to the shop manager today."]
TYPED = "My order arrived late and the box was crushed."
EPOCHS = 20
SCORE = r"(\d{1,3}%), likely between (\d{1,3}%) and (\d{1,3}%)"  # a score sentence's three numbers
WORK = 180_000  # ms: starting the worker and training (or making the ONNX file) on a busy CPU

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")]


@pytest.fixture
def reviews_csv(tmp_path) -> Path:
    """The shop's reviews as a CSV: the review, the shop's reply and the review's kind, one row each."""
    path = tmp_path / "shop.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["said", "reply", "kind"])
        writer.writerows([text, REPLIES[i % 2], label] for i, (text, label) in enumerate(ROWS))
    return path


def test_a_text_project_from_a_csv_to_an_onnx_file_and_card(studio_url, reviews_csv, tmp_path):  # noqa: F811
    with chromium_page() as page:
        page.goto(studio_url)
        _data(page, reviews_csv)
        _model(page)
        _strategy(page)
        _train(page)
        score = _evaluate(page)
        shown = _use(page)
        onnx_zip, card = _downloads(page, tmp_path)
    _check_card(card, score)
    _check_onnx(onnx_zip, card, shown, tmp_path)


def _data(page: Page, table: Path) -> None:
    """Upload the table, pick its columns, import it; the check counts it and quotes the markup as written."""
    expect(page.get_by_role("heading", name="Your images")).to_be_visible(timeout=STEP)
    open_tab(page, "Texts")
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Table or zip of texts")
    uploader.locator("input[type=file]").set_input_files(table)
    expect(uploader).to_contain_text(table.name)
    expect(page.get_by_text("could not be told: choose them")).to_be_visible()
    label = page.get_by_role("combobox", name="Label column")
    expect(label).to_have_value("reply")  # the second column, until picked
    label.click()
    page.get_by_role("option", name="kind", exact=True).click()
    settle(page)
    expect(label).to_have_value("kind")
    expect(page.get_by_role("combobox", name="Text column")).to_have_value("said")
    page.get_by_role("button", name="Import these texts").click()
    expect(page.get_by_text(f"Imported: 'shop' with 3 classes and {len(ROWS)} texts.")).to_be_visible(timeout=STEP)
    expect(page.get_by_role("heading", name="Check of 'shop'")).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Classes").get_by_test_id("stMetricValue")).to_have_text("3")
    expect(metrics.filter(has_text="Usable texts").get_by_test_id("stMetricValue")).to_have_text(str(len(ROWS)))
    quoted = page.get_by_test_id("stMarkdown").filter(has_text="fewer than 3 words")
    expect(quoted).to_contain_text(f"'{MARKUP}'")  # the tags and asterisks themselves, not bold type
    expect(quoted.locator("b, strong")).to_have_count(0)


def _model(page: Page) -> None:
    go(page, "model", "Choose a pretrained model")
    expect(page.get_by_test_id("stMain")).to_contain_text("Texts use the bundled English sentence encoder")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("MiniLM")


def _strategy(page: Page) -> None:
    """The encoder frozen (only a new last layer learns), EPOCHS epochs, no early stop."""
    go(page, "strategy", "How much of the network to retrain")
    slider = page.locator(".st-key-opt_stages").get_by_role("slider")
    expect(slider).to_be_visible()
    slider.focus()
    slider.press("Home")
    expect(slider).to_have_value("0")
    settle(page)
    open_advanced(page)
    expect(page.locator(".st-key-image_size_own")).to_have_count(0)  # a text run has no image size
    quick_settings(page, EPOCHS, pixels=None)


def _train(page: Page) -> None:
    """Start; the live charts show and the run finishes."""
    go(page, "train", "Train")
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text(f"shop: keeps MiniLM-L6 sentence encoder as it is and trains only a new last layer, "
                                 f"{EPOCHS} epochs, texts read up to 256 tokens, on this computer's processor")
    expect(main).not_to_contain_text("pixels")
    page.get_by_role("button", name="Start training").click()
    started = re.compile(r"^Run .+: (Waiting to start|Training|Finished)$")
    expect(page.get_by_role("heading", name=started)).to_be_visible()
    expect(plots(page).first).to_be_visible(timeout=WORK)
    expect(page.get_by_text("Training finished and the model is saved.")).to_be_visible(timeout=WORK)
    expect(page.get_by_role("heading", name=re.compile(r"^Run .+: Finished$"))).to_be_visible()
    for name in ("Loss", "Accuracy"):
        expect(page.locator(".js-plotly-plot .gtitle", has_text=re.compile(f"^{name}$"))).to_have_count(1)


def _evaluate(page: Page) -> tuple[str, str, str]:
    """The one score, with its interval, on the 15 texts; its three numbers as shown ("80%", "55%", "93%")."""
    page.get_by_role("button", name="See how good it is").click()
    expect(page.get_by_role("heading", name="How good is the model?")).to_be_visible(timeout=STEP)
    heading = page.get_by_role("heading", name=re.compile(rf"^{SCORE} \({len(ROWS)} "))
    expect(heading).to_be_visible()
    expect(page.get_by_role("heading", name="Which classes get mixed up")).to_be_visible()
    return re.match(SCORE, heading.inner_text()).groups()


def _use(page: Page) -> dict[str, float]:
    """A typed text's answer and its classes' probabilities, as the page's chart holds them."""
    go(page, "use", "Use your model")
    typed = page.get_by_role("textbox", name="Type or paste a text")
    typed.fill(TYPED)
    typed.press("Control+Enter")
    answer = page.get_by_role("heading", name=re.compile(rf"^({'|'.join(CLASSES)}) \(\d+% sure\)$"))
    expect(answer).to_be_visible(timeout=STEP)
    chart = plots(page, ".st-key-top_typed")
    expect(chart).to_be_visible()
    # What plotly drew (its _fullData): the probabilities themselves, not their rounded labels
    bars = chart.evaluate("el => ({y: Array.from(el._fullData[0].y), x: Array.from(el._fullData[0].x)})")
    shown = dict(zip(bars["y"], bars["x"]))
    assert sorted(shown) == CLASSES, shown
    best = max(shown, key=shown.get)
    assert answer.inner_text() == f"{best} ({shown[best]:.0%} sure)"
    return shown


def _downloads(page: Page, tmp_path: Path) -> tuple[Path, str]:
    """Make the ONNX file, download it with its tokenizer, and the model card; the zip and the card's text."""
    page.get_by_role("tab", name="Download the model").click()
    page.get_by_role("button", name="Make the ONNX file").click()
    get_onnx = page.get_by_role("button", name="Download model.onnx with its tokenizer.json (.zip)")
    expect(get_onnx).to_be_visible(timeout=WORK)
    with page.expect_download() as download:
        get_onnx.click()
    onnx_zip = tmp_path / download.value.suggested_filename
    download.value.save_as(onnx_zip)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the model card (.md)").click()
    assert download.value.suggested_filename == onnx_zip.name.replace("-onnx.zip", "-model-card.md")
    card = tmp_path / "card.md"
    download.value.save_as(card)
    return onnx_zip, card.read_text(encoding="utf-8")


def _check_card(card: str, score: tuple[str, str, str]) -> None:
    """The card names the classes, and its score and interval are the ones Evaluate showed."""
    assert re.search(r"^- \*\*Classes \(3\):\*\* (.+)$", card, re.M).group(1) == ", ".join(CLASSES)
    assert re.search(rf"\*\*Score: {SCORE} \({len(ROWS)} ", card).groups() == score


def _check_onnx(onnx_zip: Path, card: str, shown: dict[str, float], tmp_path: Path) -> None:
    """The zip holds model.onnx and tokenizer.json; the card's script gives the typed text the page's
    probabilities (within 1e-4)."""
    run = onnx_zip.name.removesuffix("-onnx.zip")
    with zipfile.ZipFile(onnx_zip) as zf:
        assert sorted(zf.namelist()) == [f"{run}/model.onnx", f"{run}/tokenizer.json"]
        zf.extractall(tmp_path / "onnx")
    folder = tmp_path / "onnx" / run
    script: dict = {"__name__": "snippet"}
    exec(re.search(r"```python\n(.*?)```", card, re.S).group(1), script)  # the card's own script
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["classes"]) == CLASSES
    probabilities = script["classify"](session, Tokenizer.from_file(str(folder / "tokenizer.json")), [TYPED])[0]
    np.testing.assert_allclose(probabilities, [shown[c] for c in CLASSES], atol=1e-4)
