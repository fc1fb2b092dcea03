"""Hostile input to labelling with the model: each case gets one plain line, and nothing saved is lost."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from pools import dataset, image, pool_folder
from text_fixtures import TOPICS
from test_hostile_input import fingerprint
from tlcore import studio
from tlcore.data.dataset import Dataset
from tlcore.data.labels import NO_SUCH_CLASS, NOT_IN_POOL, POOL_GONE
from tlcore.data.labels_csv import NO_FILE_CLASS
from tlcore.data.pool import ALL_COPIES, NO_POOL_IMAGES, TABLE_NOT_STORED, home
from tlcore.data.pool_texts import NOT_A_TEXT_TABLE
from tlcore.errors import TLError
from tlcore.training.suggest import NO_EXAMPLES, POOL_OF_ONE, POOL_TOO_SMALL

MODEL, SIZE = "efficientnet_lite0", 32


def saved(folder: str) -> dict:
    """The dataset's files and records, lock left out (taking it touches nothing saved)."""
    return {k: v for k, v in fingerprint(Path(folder)).items() if not k.endswith(".lock")}


def test_an_empty_pool_folder_is_said_plainly(tmp_path):
    data = dataset()
    (tmp_path / "empty").mkdir()
    before = saved(data)
    with pytest.raises(TLError) as e:
        studio.add_to_pool(data, tmp_path / "empty")
    assert str(e.value) == NO_POOL_IMAGES.format(label="empty")
    assert saved(data) == before


def test_a_pool_of_one_image_is_said_plainly(tmp_path):
    data = dataset()
    studio.add_to_pool(data, [("only.png", image(0, 50))])
    with pytest.raises(TLError) as e:
        studio.suggestions(data, MODEL, SIZE)
    assert str(e.value) == POOL_TOO_SMALL.format(held=POOL_OF_ONE.format(thing="image"), thing="image")
    assert [p["name"] for p in studio.pool_images(data)] == ["only.png"]


def test_a_pool_of_copies_of_labelled_images_is_said_plainly(tmp_path):
    data = dataset()
    copies = tmp_path / "copies"
    copies.mkdir()
    (copies / "same.png").write_bytes(image(0, 0))  # the very file
    ds = Dataset.load(data)
    from PIL import Image

    resized = Image.open(ds.items[-1].path).resize((80, 80), Image.NEAREST)
    resized.save(copies / "bigger.png")  # the same picture, resized
    before = saved(data)
    with pytest.raises(TLError) as e:
        studio.add_to_pool(data, copies)
    assert str(e.value) == ALL_COPIES.format(images="2 images", label="copies", kind="image", copies="are copies")
    assert saved(data) == before


def test_a_class_with_no_examples_yet_is_said_plainly(tmp_path):
    data = dataset()
    ds = Dataset.load(data)
    ds.with_items(i for i in ds.items if i.label != "blue").save(data)  # 'blue' named, no image yet
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    before = saved(data)
    with pytest.raises(TLError) as e:
        studio.suggestions(data, MODEL, SIZE)
    assert str(e.value) == NO_EXAMPLES.format(classes="'blue'", thing="image")
    assert {k: v for k, v in saved(data).items() if "features-" not in k} == before
    done = studio.confirm(data, [("u2-10.png", "blue")])  # labelling one gives it its first example
    assert done["labelled"] == 1 and Dataset.load(data).counts()["blue"] == 1


@pytest.mark.parametrize("rows, line", [
    ("file,class\nnot-there.png,red\nu0-10.png,red\n",
     NOT_IN_POOL.format(images="1 image", are="is", shown="'not-there.png'")),
    ("file,class\nu0-10.png,purple\nu0-11.png,red\n",
     NO_SUCH_CLASS.format(unknown="'purple'", classes="blue, green, red")),
    ("name,label\nu0-10.png,red\n",
     NO_FILE_CLASS.format(name="out.csv")),
])
def test_a_label_csv_naming_unknown_files_or_classes_is_said_plainly(tmp_path, rows, line):
    data = dataset()
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    _label_csv_refused(data, tmp_path / "out.csv", rows, line)


def _label_csv_refused(data, csv_path, rows: str, line: str) -> None:
    """A label CSV of ``rows`` applied to ``data`` is refused with ``line``, and nothing saved changes."""
    csv_path.write_text(rows)
    before = saved(data)
    with pytest.raises(TLError) as e:
        studio.apply_labels_csv(data, csv_path)
    assert str(e.value) == line
    assert saved(data) == before


@pytest.mark.parametrize("deleted", ["pool/files", "pool"])
def test_the_pool_deleted_while_labelling_is_said_plainly(tmp_path, deleted):
    data = dataset()
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    studio.confirm(data, [("u0-10.png", "red")])
    shutil.rmtree(home(data).folder / deleted)  # another tab, or a person, deleted the pool's images
    before = Dataset.load(data)
    with pytest.raises(TLError) as e:
        studio.confirm(data, [("u1-10.png", "green")])
    assert str(e.value) == POOL_GONE
    after = Dataset.load(data)
    assert after.items == before.items and studio.how_labelled(data)["person"] == 1


def _label_one_by_one(data: str, names: list[str]) -> None:
    """One click at a time, as a tab does (run in a process of its own)."""
    from tlcore.data.labels import confirm

    for name in names:
        confirm(data, [(name, "red" if name.startswith("u0") else "green" if name.startswith("u1") else "blue")])


def test_two_processes_labelling_the_same_pool_lose_or_double_nothing(tmp_path):
    data = dataset()
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 6))
    names = [p["name"] for p in studio.pool_images(data)]  # 18
    first, second = names[:12], names[6:]  # 6 in common: both tabs label them
    fork = multiprocessing.get_context("fork")  # starts at once: the modules are loaded already
    procs = [fork.Process(target=_label_one_by_one, args=(data, part)) for part in (first, second)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        if p.is_alive():
            p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    ds = Dataset.load(data)
    record = [json.loads(line) for line in (Path(data) / "labels.jsonl").read_text().splitlines()]
    assert sorted(e["name"] for e in record) == sorted(names)  # each once
    assert len(ds.items) == 9 + 18 and len({i.sha256 for i in ds.items}) == 27
    assert studio.pool_images(data) == [] and studio.how_labelled(data) == {"person": 18, "bulk": 0, "imported": 9}
    assert all(Path(i.path).is_file() for i in ds.items)


def _text_pool(tmp_path) -> str:
    """A stored text dataset of 2 texts a topic with 2 unlabelled texts in its pool; its folder."""
    folder = studio.text_folder(studio.type_texts("topics", {c: "\n".join(t[:2]) for c, t in TOPICS.items()}))
    (tmp_path / "new.csv").write_text(f"text\n{TOPICS['food'][5]}\n{TOPICS['sport'][5]}\n")
    studio.add_to_pool(folder, tmp_path / "new.csv")
    return folder


@pytest.mark.parametrize("rows, line", [
    ("file,class\nnew.csv row 9,food\n", NOT_IN_POOL.format(images="1 text", are="is", shown="'new.csv row 9'")),
    ("file,class\nnew.csv row 2,drinks\n", NO_SUCH_CLASS.format(unknown="'drinks'", classes="food, sport, weather")),
])
def test_a_label_csv_naming_unknown_texts_or_classes_is_said_plainly(tmp_path, rows, line):
    _label_csv_refused(_text_pool(tmp_path), tmp_path / "out.csv", rows, line)


def test_texts_that_are_not_a_table_or_a_table_run_are_said_plainly(tmp_path):
    folder = _text_pool(tmp_path)
    before = saved(folder)
    with pytest.raises(TLError) as e:
        studio.add_to_pool(folder, ("photos.zip", b"PK\x05\x06" + bytes(18)))
    assert str(e.value) == NOT_A_TEXT_TABLE.format(name="photos.zip")
    assert saved(folder) == before
    (tmp_path / "tickets.csv").write_text("text,label\nhello,a\n")
    with pytest.raises(TLError) as e:
        studio.suggestions(tmp_path / "tickets.csv")
    assert str(e.value) == TABLE_NOT_STORED.format(name="tickets.csv")
