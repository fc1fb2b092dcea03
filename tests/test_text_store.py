"""Text datasets in the workspace: imported once per content, listed with their kind, opened again as
stored, typed lines added to a class; and the text audit's sentences."""

import json
import zipfile

import pytest

from test_hostile_input import fingerprint, one_line
from text_fixtures import REVIEWS
from tlcore.data import store
from tlcore.data.texts import LABEL_TWINS, ONE_LABEL, TextData, TextItem
from tlcore.data.texts_audit import COUNTS, FEW, LEAKED, MIXED, REPEATS, SHORT
from tlcore.data.texts_store import DAMAGED_TEXTS, NO_CLASS, NO_TEXTS_TO_ADD, NO_TYPED_TEXTS
from tlcore.errors import TLError
from tlcore.studio import (add_typed_texts, audit_texts, dataset_kind, import_text_path, import_texts, open_texts,
                           type_texts)
from tlcore.workspace import datasets_dir, workspace_dir



def _table(rows, header="text,label") -> bytes:
    return ("\n".join([header, *('"' + t.replace('"', '""') + f'",{label}' for t, label in rows)]) + "\n").encode()


def _folder_of(name: str) -> str:
    return next(d["folder"] for d in store.list_datasets() if d["name"] == name)


def test_an_uploaded_table_is_stored_once_listed_as_text_and_opened_as_stored():
    data = import_texts(_table(REVIEWS), "reviews.csv")
    assert data.name == "reviews" and data.columns == ("text", "label")
    before = fingerprint(workspace_dir())
    assert import_texts(_table(REVIEWS), "reviews.csv").items == data.items  # the same upload: stored once
    assert fingerprint(workspace_dir()) == before
    (entry,) = store.list_datasets()
    assert entry["kind"] == "text" and entry["images"] == 6 and entry["classes"] == ["complaint", "praise", "question"]
    assert dataset_kind(entry["folder"]) == "text"
    assert open_texts(entry["folder"]) == data
    with pytest.raises(TLError) as e:
        store.open_dataset(entry["folder"])
    assert str(e.value) == "This dataset holds texts, not images; open it as a text project."


def test_a_folder_with_split_folders_and_a_zip_are_stored_with_their_splits(tmp_path):
    root = tmp_path / "shop"
    for k, (text, label) in enumerate(REVIEWS):
        folder = root / ("train", "val", "test")[k % 3] / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{k}.txt").write_text(text, encoding="utf-8")
    data = import_text_path(root)
    assert sorted((i.text, i.split) for i in data.items) == sorted(
        (t, ("train", "val", "test")[k % 3]) for k, (t, _) in enumerate(REVIEWS))
    assert open_texts(_folder_of("shop")) == data
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for k, (text, label) in enumerate(REVIEWS):
            z.writestr(f"zipped/test/{label}/{k}.txt" if k < 3 else f"zipped/train/{label}/{k}.txt", text)
    zipped = import_text_path(archive)
    assert zipped.name == "zipped" and {i.split for i in zipped.items} == {"train", "test"}
    assert {d["kind"] for d in store.list_datasets()} == {"text"} and len(store.list_datasets()) == 2


def test_a_split_column_is_honoured_in_the_store():
    rows = "text,label,split\n" + "".join(f'"{t}",{label},{"test" if k < 3 else "train"}\n'
                                          for k, (t, label) in enumerate(REVIEWS))
    data = import_texts(rows.encode(), "split.csv")
    assert [i.split for i in open_texts(_folder_of("split")).items] == ["test"] * 3 + ["train"] * 3
    assert data.counts("test") == {"complaint": 1, "praise": 1, "question": 1}


def test_typed_lines_make_a_dataset_and_join_a_class_of_it():
    data = type_texts("Tickets", {"refund": "I want my money back\n\n  Please refund me  \n",
                                  "login": "I cannot log in"})
    assert data.classes == ["login", "refund"] and [i.text for i in data.items] == [
        "I want my money back", "Please refund me", "I cannot log in"]
    folder = _folder_of("Tickets")
    grown = add_typed_texts(folder, "password", "Forgot my password\nReset link never came")
    assert grown.classes == ["login", "password", "refund"] and len(grown.items) == 5
    assert open_texts(folder) == grown
    assert add_typed_texts(folder, "Refund", "Money back").counts()["refund"] == 3  # the class, as typed before
    before = fingerprint(workspace_dir())
    for call, args, line in [
            (add_typed_texts, (folder, "refund", " \n \n"), NO_TEXTS_TO_ADD),
            (add_typed_texts, (folder, " ", "text"), NO_CLASS),
            (type_texts, ("Twins", {"Refund": "a", "refund": "b"}),
             LABEL_TWINS.format(first="Refund", second="refund")),
            (type_texts, ("Empty", {"a": "", "b": " "}), NO_TYPED_TEXTS),
            (type_texts, ("One", {"a": "one\ntwo"}), ONE_LABEL.format(where="the typed texts", label="a"))]:
        with pytest.raises(TLError) as e:
            call(*args)
        one_line(str(e.value))
        assert str(e.value) == line
    assert fingerprint(workspace_dir()) == before


def test_a_damaged_text_manifest_is_one_line():
    import_texts(_table(REVIEWS), "reviews.csv")
    folder = _folder_of("reviews")
    manifest = datasets_dir() / folder / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "items": "oops"}))
    with pytest.raises(TLError) as e:
        open_texts(folder)
    assert str(e.value) == DAMAGED_TEXTS.format(folder=(datasets_dir() / folder).name)


def _data(rows: list[tuple[str, str, str]]) -> TextData:
    items = [TextItem(t, label, split, f"row {k + 2}") for k, (t, label, split) in enumerate(rows)]
    return TextData("shop", sorted({i.label for i in items}), items)


def test_the_audit_counts_classes_and_splits_and_names_copies_short_and_few():
    rows = [(t, label, "train") for t, label in REVIEWS] + [
        ("the parcel came two weeks LATE and  nobody answered my emails.", "complaint", "test"),  # a training copy
        ("Fast delivery and great quality, thank you!", "praise", "train"),  # repeated in its class
        ("Lovely shop, the staff helped me pick the right size.", "question", "train"),  # under two classes
        ("Thanks!", "praise", "test")]
    report = audit_texts(_data(rows))
    assert report["total"] == 10 and report["counts"]["praise"] == {"total": 4, "train": 3, "test": 1}
    assert report["copies"] == {"within_class": 1, "across_classes": 1, "across_splits": 1}
    assert report["short"] == 1 and report["cut"] == 0 and report["limit"] == 256
    assert report["lines"] == [
        COUNTS.format(texts="10 texts", classes=3, each="'complaint' 3 (train 2, test 1); 'praise' 4 (train 3, "
                      "test 1); 'question' 3 (train 3, test 0)"),
        FEW.format(which="Classes 'complaint' (3), 'praise' (4), 'question' (3) have", few=10),
        REPEATS.format(texts="1 text", repeat="repeats", example="'Fast delivery and great quality, thank you\\!'"),
        MIXED.format(texts="1 text", appear="appears", example=f"'{REVIEWS[1][0]}'", first="praise", second="question"),
        LEAKED.format(texts="1 validation or test text", repeat="repeats", them="it",
                      example="'the parcel came two weeks LATE and  nobody answered my email…'"),
        SHORT.format(texts="1 text", have="has", words=3, example="'Thanks\\!'", them="it")]


def test_a_clean_audit_says_only_the_counts():
    rows = [(f"{t} (order {k})", label, "") for k in range(4) for t, label in REVIEWS]
    assert audit_texts(_data(rows))["lines"] == [
        COUNTS.format(texts="24 texts", classes=3, each="'complaint' 8; 'praise' 8; 'question' 8"),
        FEW.format(which="Classes 'complaint' (8), 'praise' (8), 'question' (8) have", few=10)]
