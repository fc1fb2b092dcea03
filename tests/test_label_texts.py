"""Labelling a text dataset (issue 28, "both kinds of data"): a CSV of texts without a label column
joins the pool of a stored text dataset; suggestions come from the sentence encoder's features (the
same ordering code as images); confirmed texts join the dataset's texts, undo takes them back; and
the ``suggest``/``label`` commands do the same from a run trained on the stored texts."""

import csv
from pathlib import Path

import pytest

from text_fixtures import TOPICS
from tlcore.cli import main
from tlcore.data.pool import ALL_COPIES
from tlcore.data.texts_store import open_texts
from tlcore.errors import TLError
from tlcore.studio import add_to_pool, confirm, how_labelled, pool_images, suggestions, text_folder, type_texts, undo


def unlabelled_csv(path: Path, rows: list[str], header: str = "review") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([header, "when"])
        writer.writerows([t, "2026"] for t in rows)
    return path


@pytest.fixture
def texts(tmp_path):
    """A stored text dataset of 2 texts a topic, and a CSV of the other 6 of each (no label column)."""
    folder = text_folder(type_texts("topics", {c: "\n".join(t[:2]) for c, t in TOPICS.items()}))
    rest = [t for topic in TOPICS.values() for t in topic[2:]]
    return folder, unlabelled_csv(tmp_path / "tickets.csv", rest + [TOPICS["food"][0], ""])


def test_texts_join_the_pool_and_come_back_on_undo(texts):
    folder, table = texts
    added = add_to_pool(folder, table)
    assert added["message"] == "Added 18 texts to the unlabelled pool (now 18); left out: 1 copy of labelled texts."
    assert add_to_pool(folder, ("again.csv", table.read_bytes()))["message"] == (
        "Added 0 texts to the unlabelled pool (now 18); left out: 1 copy of labelled texts, 18 already in the pool.")
    found = suggestions(folder)
    assert len(found.rows) == 18 and found.classes == ["food", "sport", "weather"]
    by_name = {r["name"]: r for r in found.rows}
    assert by_name["tickets.csv row 2"]["text"] == TOPICS["sport"][2]
    assert all(r["class"] in found.classes and 0 < r["probability"] <= 1 for r in found.rows)
    picked = [(r["name"], r["class"]) for r in found.rows[:3]]
    assert confirm(folder, picked)["labelled"] == 3
    data = open_texts(folder)
    assert len(data.items) == 9 and len(pool_images(folder)) == 15
    assert {(i.origin, i.label) for i in data.items[-3:]} == set(picked)
    assert how_labelled(folder) == {"person": 3, "bulk": 0, "imported": 6}
    assert undo(folder)["undone"] == 3
    assert len(open_texts(folder).items) == 6
    back = {p["name"]: Path(p["path"]).read_text(encoding="utf-8") for p in pool_images(folder)}
    assert len(back) == 18 and all(back[n] == by_name[n]["text"] for n, _ in picked)


def test_a_table_of_only_labelled_texts_adds_nothing(texts, tmp_path):
    folder, _ = texts
    copies = unlabelled_csv(tmp_path / "old.csv", [TOPICS["sport"][0], TOPICS["food"][1]])
    with pytest.raises(TLError) as e:
        add_to_pool(folder, copies)
    assert str(e.value) == ALL_COPIES.format(images="2 texts", label="old.csv", kind="text", copies="are copies")
    with pytest.raises(TLError, match="^empty.csv holds no text in any row; nothing was added"):
        add_to_pool(folder, unlabelled_csv(tmp_path / "empty.csv", ["", " "]))


def test_suggest_and_label_commands_on_texts(texts, tmp_path, capsys):
    folder, table = texts
    run = tmp_path / "run"
    assert main(["train", "--data", folder, "--out", str(run), "--device", "cpu", "--epochs", "2",
                 "--trainable-stages", "0", "--evaluation", "holdout"]) == 0
    out = tmp_path / "suggested.csv"
    assert main(["suggest", "--run", str(run), "--pool", str(table), "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Added 18 texts to the unlabelled pool" in printed and "image" not in printed, printed
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 18 and set(rows[0]) == {"file", "class", "probability", "text"}
    truth = {t: c for c, topic in TOPICS.items() for t in topic}
    with out.open("w", newline="", encoding="utf-8") as f:  # the person corrects every class
        writer = csv.writer(f)
        writer.writerow(["file", "class"])
        writer.writerows([r["file"], truth[r["text"]]] for r in rows[:5])
    assert main(["label", "--data", folder, "--from", str(out)]) == 0
    assert capsys.readouterr().out.strip() == ("labelled 5 texts; the dataset now holds 5 checked by a person, 0 "
                                               "accepted in bulk and 6 imported with their labels")
    data = open_texts(folder)
    assert len(data.items) == 11 and all(truth[i.text] == i.label for i in data.items)
