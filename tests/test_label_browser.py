"""Labelling with the model in a real browser (issue 28), by key presses as a user would.

A zip of 4 labelled images a class (red, green, blue pictures) is imported; the Strategy page is
set for a quick run (frozen, 64 pixels, 2 epochs: the Label page's features use the same size); a
zip of 42 unlabelled images without class folders joins the pool on the Data page. On the Label page
3 batches are labelled by keys: 1-3 name the class of the image in hand, Backspace skips one and
Enter takes the suggestions for the rest of the third batch. Then "accept all at least X% sure" is
used with its measured precision shown, the model trains, and the dataset on disk holds every label
given, the ones from keys in their class folders, the bulk-accepted ones marked so in the record,
and the run's record counts them by how they were made.

Keys reach st.button's ``shortcut`` as document-wide key presses (Streamlit binds them with the
hotkeys-js library): they are ignored while a text box, number box or select has focus, so the test
first clicks the page's title, as a user clicks outside a box before typing keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import (CHROMIUM, STEP, Shots, chromium_page, frozen_quick_strategy, go, open_tab,  # noqa: F401
                     settle, studio_url)
from playwright.sync_api import Locator, Page, expect
from pools import CLASSES, image, zipped
from test_camera_browser import Laps
from test_e2e_browser import TRAINING

LABELLED = 4  # a class, in the first zip
POOL = 14  # a class, in the unlabelled zip
BATCH = 10

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")]


def _zips(tmp_path: Path) -> tuple[Path, Path]:
    labelled = tmp_path / "colours.zip"
    labelled.write_bytes(zipped({f"colours/{c}/{c}{k}.png": image(i, k) for i, c in enumerate(CLASSES)
                                 for k in range(LABELLED)}))
    pile = tmp_path / "pile.zip"
    pile.write_bytes(zipped({f"pile/u{i}-{k}.png": image(i, k) for i in range(len(CLASSES))
                             for k in range(10, 10 + POOL)}))
    return labelled, pile


def test_label_three_batches_by_keys_bulk_accept_and_train(studio_url, tmp_path):  # noqa: F811
    labelled, pile = _zips(tmp_path)
    lap = Laps()
    with chromium_page() as page:
        page.goto(studio_url)
        expect(page.get_by_role("heading", name="Your images")).to_be_visible()
        _import(page, labelled)
        lap("first page, labelled zip imported")
        frozen_quick_strategy(page)
        lap("strategy set")
        _add_pool(page, pile)
        lap("unlabelled zip added")
        go(page, "label", "Label with the model")
        by_key = {}
        for batch in range(3):
            by_key.update(_batch_by_keys(page, last=batch == 2))
            lap(f"batch {batch + 1} labelled by keys")
        bulk = _bulk_accept(page, Shots(page, tmp_path))
        lap("bulk accepted")
        go(page, "train", "Train")
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("Training finished and the model is saved.")).to_be_visible(timeout=TRAINING)
        lap("trained")
    _on_disk(by_key, bulk)
    print(lap.report().replace("Camera test", "Label test"))


def _import(page: Page, zip_path: Path) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Zip file")
    uploader.locator("input[type=file]").set_input_files(zip_path)
    expect(uploader).to_contain_text(zip_path.name)
    settle(page)
    page.get_by_role("button", name="Import this zip").click()
    expect(page.get_by_text(f"Imported: 'colours' with 3 classes and {3 * LABELLED} usable images.")).to_be_visible()



def _add_pool(page: Page, zip_path: Path) -> None:
    page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").filter(
        has_text=re.compile(r"Data$")).click()  # the first page's link is the studio's own address
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
    open_tab(page, "Unlabelled images")
    expect(page.get_by_text("The unlabelled pool of 'colours' is empty.")).to_be_visible()
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Unlabelled images")
    uploader.locator("input[type=file]").set_input_files(zip_path)
    expect(uploader).to_contain_text(zip_path.name)
    settle(page)
    page.get_by_role("button", name="Add to the unlabelled pool").click()
    total = 3 * POOL
    expect(page.get_by_text(f"Added {total} images to the unlabelled pool (now {total}).")).to_be_visible()
    expect(page.get_by_text(f"The unlabelled pool of 'colours' holds {total} images.")).to_be_visible()


def _ready(page: Page) -> dict[str, str]:
    """Wait until the suggestions are up to date (the bulk accept shows and the model has learnt from the
    last batch: no progress bar); the key of each class."""
    expect(page.locator(".st-key-label_threshold")).to_be_visible(timeout=2 * STEP)
    expect(page.get_by_test_id("stProgress")).to_have_count(0, timeout=2 * STEP)
    settle(page)
    page.get_by_role("heading", name="Label with the model").click()  # no box has the keys' focus
    keys = {}
    for k in range(len(CLASSES)):
        button = page.locator(f".st-key-label_class_{k}").get_by_role("button")
        expect(button.get_by_label(f"Shortcut {k + 1}")).to_have_count(1)  # the key, shown on the button
        keys[next(c for c in CLASSES if c in button.inner_text())] = str(k + 1)
    assert sorted(keys) == sorted(CLASSES), keys
    return keys


def _in_hand(page: Page) -> Locator:
    """The line naming the image in hand."""
    return page.locator(".st-key-label_in_hand").get_by_test_id("stMarkdownContainer").filter(
        has_text=re.compile(r"^Now:"))


def _now(page: Page) -> str:
    return re.sub(r"^Now:\s*", "", _in_hand(page).inner_text()).strip()


def _batch_by_keys(page: Page, last: bool) -> dict[str, str]:
    """Label one batch by keys; the labels given by number keys (name -> class)."""
    keys, given = _ready(page), {}
    heading = page.get_by_role("heading", name=re.compile(r"^Batch: \d+ of \d+ labelled"))
    if last:  # Backspace: the image in hand is asked about last
        skipped = _now(page)
        page.keyboard.press("Backspace")
        expect(_in_hand(page)).not_to_have_text(f"Now: {skipped}")
        settle(page)
    for k in range(4 if last else BATCH):
        name = _now(page)
        truth = CLASSES[int(Path(name).name[1])]  # pile/u2-13.png is blue
        page.keyboard.press(keys[truth])
        given[name] = truth
        if k < BATCH - 1:
            expect(heading).to_have_text(f"Batch: {k + 1} of {BATCH} labelled")
            settle(page)
    if last:
        page.keyboard.press("Enter")  # the suggestions for the other 5, checked on the grid
        expect(page.get_by_text("Saved 9 labels; the model is learning from them.")).to_be_visible()
    else:
        expect(page.get_by_text("Saved 10 labels; the model is learning from them.")).to_be_visible()
    return given


def _bulk_accept(page: Page, shot: Shots) -> int:
    """Accept every suggestion at least 90% sure, its precision on held-out images shown; how many."""
    _ready(page)
    shot("label")
    shown = page.get_by_test_id("stCaptionContainer").filter(has_text="labelled images the model had not seen")
    expect(shown).to_contain_text(re.compile(r"at least 90% sure were right \d+% of the time"))
    button = page.locator(".st-key-label_bulk").get_by_role("button")
    count = int(re.search(r"Accept (\d+) suggestion", button.inner_text()).group(1))
    assert count > 0
    button.click()
    expect(page.get_by_text(re.compile(rf"^Accepted {count} suggestions? at least 90% sure"))).to_be_visible()
    return count


def _on_disk(by_key: dict[str, str], bulk: int) -> None:
    """The labels are in the stored dataset; the record says which a person gave and which came in bulk."""
    from tlcore.data.dataset import Dataset
    from tlcore.jobs import runs
    from tlcore.rundir import RunDir
    from tlcore.workspace import datasets_dir

    folder = next(p.parent for p in datasets_dir().glob("*/labels.jsonl"))
    record = [json.loads(line) for line in (folder / "labels.jsonl").read_text().splitlines()]
    person = {e["name"]: e for e in record if e["how"] == "person"}
    assert len(person) == 3 * BATCH - 1 and len(by_key) == 2 * BATCH + 4
    for name, label in by_key.items():
        assert person[name]["class"] == label
        assert Path(person[name]["path"]).is_file() and Path(person[name]["path"]).parent.name == label
    bulk_entries = [e for e in record if e["how"] == "bulk"]
    assert len(bulk_entries) == bulk and all(e["threshold"] == 0.9 and e["precision"] for e in bulk_entries)
    items = {i.path: i.label for i in Dataset.load(folder).items}
    assert all(items.get(e["path"]) == e["class"] for e in record)  # ordinary labelled images now
    assert len(items) == 3 * LABELLED + len(record)
    [run] = runs.list_runs()  # the run trained on them says how its labels were made
    assert RunDir(run["path"]).record().labels == {"person": len(person), "bulk": bulk, "imported": 3 * LABELLED}
