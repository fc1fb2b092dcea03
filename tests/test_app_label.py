"""The Label page: suggestions for the unlabelled pool, a batch confirmed by clicks, Enter's accept,
bulk accept with its precision, Undo, and one plain line for each way it cannot suggest. The Data
page's "Unlabelled images" section adds a zip to the pool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app_fixtures import charts, studio, texts, wait_until
from label_page import bulk_accept_at_half, join_labelling_threads, press, suggested
from pools import dataset, image, pool_folder, zipped

from pages import label_batch, label_bulk, ui
from tlcore import studio as front
from tlcore.data.dataset import Dataset
from tlcore.data.labels import POOL_GONE
from tlcore.data.pool import home
from tlcore.studio.labelling import HISTORY
from tlcore.training.suggest import NO_EXAMPLES, POOL_OF_ONE, POOL_TOO_SMALL

COLOUR = {"u0": "red", "u1": "green", "u2": "blue"}  # a pool image's true class, from its name
SMALL = {ui.MODEL: "efficientnet_lite0", ui.OPT + "image_size": 32}  # features in seconds
_no_thread_left = pytest.fixture(autouse=True)(join_labelling_threads)


def _label_page(data: str):
    return studio("label", **{ui.DATASET: data, **SMALL})


def _infos(at) -> list[str]:
    return [e.value for e in at.info]


def _now(at) -> str:
    """The name of the image in hand."""
    line = next(m.value for m in at.markdown if m.value.startswith("**Now:**"))
    return line.removeprefix("**Now:** ").replace("\\", "")


def test_no_pool_says_where_to_add_images():
    at = _label_page(dataset())
    assert not at.exception and not at.error
    assert any(line.startswith("This dataset has no unlabelled images yet.") for line in _infos(at))


def test_a_pool_of_one_says_so_and_the_image_can_still_be_labelled(tmp_path):
    data = dataset()
    name = "[see](x.png) *only*.png"
    front.add_to_pool(data, [(name, image(2, 50))])
    one = POOL_TOO_SMALL.format(held=POOL_OF_ONE.format(thing="image"), thing="image")
    at = wait_until(_label_page(data), lambda at: one in _infos(at), 60)
    assert not at.exception and not at.error
    assert _now(at) == name and "\\[see\\]" in texts(at.markdown)  # shown as written, not as a link
    press(at, "blue")
    assert not at.exception and not at.error
    assert "Saved 1 label; the model is learning from them." in texts(at.success)
    assert Dataset.load(data).counts()["blue"] == 4 and front.pool_images(data) == []


def test_a_class_with_no_examples_says_so_and_labelling_by_hand_goes_on(tmp_path):
    data = dataset()
    ds = Dataset.load(data)
    ds.with_items(i for i in ds.items if i.label != "blue").save(data)
    front.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    at = wait_until(_label_page(data), lambda at: NO_EXAMPLES.format(classes="'blue'", thing="image") in _infos(at), 60)
    assert not at.exception and not at.error
    press(at, COLOUR[_now(at)[:2]])
    assert not at.exception and not at.error
    assert "Batch: 1 of 6 labelled" in texts(at.subheader)


def test_a_batch_confirmed_by_clicks_joins_the_dataset_as_a_persons_labels(tmp_path):
    data = dataset()
    front.add_to_pool(data, pool_folder(tmp_path / "pool", 5))
    at = wait_until(_label_page(data), suggested, 90)
    assert not at.exception and not at.error
    assert sum(line.endswith("%)") for line in texts(at.caption).splitlines()) == label_batch.SIZE  # the grid
    given = []
    for _ in range(label_batch.SIZE):
        name = _now(at)
        given.append((name, COLOUR[name[:2]]))
        press(at, COLOUR[name[:2]])
        assert not at.exception and not at.error
    assert "Saved 10 labels; the model is learning from them." in texts(at.success)
    ds = Dataset.load(data)
    assert len(ds.items) == 9 + 10 and len(front.pool_images(data)) == 5
    record = [json.loads(line) for line in (Path(data) / "labels.jsonl").read_text().splitlines()]
    assert sorted((e["name"], e["class"]) for e in record) == sorted(given)
    assert {e["how"] for e in record} == {"person"}
    assert all(Path(e["path"]).is_file() and f"/{e['class']}/" in e["path"] for e in record)
    wait_until(at, suggested, 90)  # the model learned from them: a second point, not measured under 30 labels
    assert [(p["labels"], p["expected"]) for p in front.accuracy_history(data)] == [(9, None), (19, None)]
    assert label_bulk.NO_CHART.format(things="images") in texts(at.caption) and not charts(at)


def test_the_chart_draws_the_expected_accuracy_and_says_how_it_was_checked():
    data = dataset()
    points = [{"labels": 9, "accuracy": 0.4}, {"labels": 30, "expected": 0.71}, {"labels": 40, "expected": 0.78},
              {"labels": 50, "expected": None}]
    (home(data).folder / HISTORY).write_text("".join(json.dumps(p) + "\n" for p in points) + "{damaged\n5\n")
    at = _label_page(data)
    assert not at.exception and not at.error
    chart = charts(at)[label_bulk.CHART.format(things="images")]
    assert list(chart.data[0].x) == [30, 40] and list(chart.data[0].y) == [0.71, 0.78]
    assert label_bulk.HOW_CHART.format(things="images") in texts(at.caption)


def test_enter_accepts_the_suggestions_and_undo_takes_the_batch_back(tmp_path):
    data = dataset()
    front.add_to_pool(data, pool_folder(tmp_path / "pool", 4))
    at = wait_until(_label_page(data), suggested, 90)
    skipped = _now(at)
    at.button(key="label_skip").click().run()  # Backspace
    assert _now(at) != skipped and "skipped" in texts(at.caption)
    at.button(key="label_accept").click().run()  # Enter
    assert not at.exception and not at.error
    assert "Saved 9 labels; the model is learning from them." in texts(at.success)
    assert front.how_labelled(data) == {"person": 9, "bulk": 0, "imported": 9}
    assert [p["name"] for p in front.pool_images(data) if p["skipped"]] == [skipped]
    at.button(key="label_undo").click().run()
    assert not at.exception and not at.error
    assert "Took back the last batch (checked by you): 9 images in the pool again." in texts(at.success)
    assert len(Dataset.load(data).items) == 9 and len(front.pool_images(data)) == 12


def test_bulk_accept_states_its_precision_and_is_recorded_as_bulk(tmp_path):
    data = dataset(per_class=10)  # 30 labelled: enough to measure the precision
    front.add_to_pool(data, pool_folder(tmp_path / "pool", 6))
    at = wait_until(_label_page(data), suggested, 120)
    count = bulk_accept_at_half(at, 30, "images")
    made = front.how_labelled(data)
    assert made["bulk"] == count and made["person"] == 0
    record = [json.loads(line) for line in (Path(data) / "labels.jsonl").read_text().splitlines()]
    assert {e["how"] for e in record} == {"bulk"} and {e["threshold"] for e in record} == {0.5}
    assert all(e["precision"] is not None for e in record)


def test_the_pool_deleted_while_labelling_is_one_line(tmp_path):
    data = dataset()
    front.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    at = wait_until(_label_page(data), suggested, 90)
    press(at, COLOUR[_now(at)[:2]])  # one label in the batch, not saved yet
    shutil.rmtree(home(data).pool_dir)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [POOL_GONE]
    assert len(Dataset.load(data).items) == 9


def test_the_data_page_adds_a_zip_of_unlabelled_images_to_the_pool():
    data = dataset()
    at = studio("data", **{ui.DATASET: data})
    upload = next(u for u in at.file_uploader if u.label.startswith("Unlabelled images"))
    upload.set_value(("pile.zip", zipped({f"pile/{k}.png": image(k % 3, 20 + k) for k in range(6)}),
                      "application/zip")).run()
    at.button(key="pool_add").click().run()
    assert not at.exception and not at.error
    assert "Added 6 images to the unlabelled pool (now 6)." in texts(at.success)
    assert "The unlabelled pool of 'colours' holds 6 images." in texts(at.markdown)
    assert len(front.pool_images(data)) == 6


def test_two_tabs_labelling_the_same_pool_lose_or_double_nothing(tmp_path):
    data = dataset()
    front.add_to_pool(data, pool_folder(tmp_path / "pool", 4))
    first, second = (wait_until(_label_page(data), suggested, 90) for _ in range(2))
    assert _now(first) == _now(second)  # the same order: both tabs hold the same batch
    for tab in (first, second):
        press(tab, COLOUR[_now(tab)[:2]])
        tab.button(key="label_accept").click().run()  # Enter: the rest of the batch from its suggestions
        assert not tab.exception and not tab.error
    assert "Saved 10 labels; the model is learning from them." in texts(first.success)
    # The second tab's batch was labelled by the first meanwhile: it went on with the 2 images left.
    assert "Saved 2 labels; the model is learning from them." in texts(second.success)
    record = [json.loads(line) for line in (Path(data) / "labels.jsonl").read_text().splitlines()]
    names = [e["name"] for e in record]
    assert len(names) == len(set(names)) == 12 and front.pool_images(data) == []
    assert len(Dataset.load(data).items) == 9 + 12
