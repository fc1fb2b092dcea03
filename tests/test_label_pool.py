"""The unlabelled pool, label records with undo, and the suggest/label commands (issue 28)."""

from __future__ import annotations

import json
from pathlib import Path

from pools import dataset, image, pool_folder, zipped
from test_hostile_input import fingerprint
from tlcore import studio
from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.data.dataset import Dataset
from tlcore.data.pool import home

MODEL, SIZE = "efficientnet_lite0", 32


def test_images_join_the_pool_audited_from_a_folder_a_zip_and_an_upload(tmp_path):
    data = dataset()
    folder = pool_folder(tmp_path / "pool", 2)
    (folder / "copy.png").write_bytes(image(1, 0))  # a labelled image again
    (folder / "notes.txt").write_text("not an image")
    got = studio.add_to_pool(data, folder)
    assert got["message"] == ("Added 6 images to the unlabelled pool (now 6); left out: 1 copy of labelled images, "
                              "1 file that could not be read.")
    (tmp_path / "burst.zip").write_bytes(zipped({"a/b/x.png": image(2, 30), "y.png": image(0, 10)}))
    assert studio.add_to_pool(data, tmp_path / "burst.zip")["message"] == (
        "Added 1 image to the unlabelled pool (now 7); left out: 1 already in the pool.")
    studio.add_to_pool(data, [("u0-10.png", image(0, 40))])  # a camera frame under a name already shown
    names = [p["name"] for p in studio.pool_images(data)]
    assert names[-2:] == ["a/b/x.png", "u0-10.png (2)"] and len(names) == 8
    assert Dataset.load(data).counts() == {"blue": 3, "green": 3, "red": 3}  # the labelled set is untouched


def test_confirmed_labels_join_the_dataset_and_undo_restores_pool_and_record(tmp_path):
    data = dataset()
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    studio.confirm(data, [("u0-10.png", "red")])
    before = {k: v for k, v in fingerprint(Path(data)).items() if not k.endswith(".lock")}
    done = studio.confirm(data, [("u1-10.png", "green"), ("u2-10.png", "blue")])
    assert done["labelled"] == 2
    ds = Dataset.load(data)
    added = [i for i in ds.items if "u1-10" in Path(i.path).name]
    assert added and added[0].label == "green" and Path(added[0].path).parent.name == "green"
    assert studio.how_labelled(data) == {"person": 3, "bulk": 0, "imported": 9}
    record = [json.loads(line) for line in (Path(data) / "labels.jsonl").read_text().splitlines()]
    assert [(e["name"], e["class"], e["how"]) for e in record] == [
        ("u0-10.png", "red", "person"), ("u1-10.png", "green", "person"), ("u2-10.png", "blue", "person")]
    assert studio.undo(data)["undone"] == 2
    after = {k: v for k, v in fingerprint(Path(data)).items() if not k.endswith(".lock")}
    assert after.keys() == before.keys()
    assert {k: v for k, v in after.items() if not k.endswith(".json")} == \
        {k: v for k, v in before.items() if not k.endswith(".json")}
    assert Dataset.load(data).items == Dataset.load(data).items and len(Dataset.load(data).items) == 10
    assert len(studio.pool_images(data)) == 5


def test_a_plain_folder_of_class_folders_gets_its_labels_as_files_in_class_folders(tmp_path):
    for i, c in enumerate(("red", "green")):
        (tmp_path / "set" / c).mkdir(parents=True)
        for k in range(2):
            (tmp_path / "set" / c / f"{k}.png").write_bytes(image(i, k))
    data = tmp_path / "set"
    studio.add_to_pool(data, [("new.png", image(1, 20))])
    studio.confirm(data, [("new.png", "green")])
    assert len(list((data / "green").glob("new-*.png"))) == 1
    assert studio.how_labelled(data) == {"person": 1, "bulk": 0, "imported": 4}
    assert not any(p.name.startswith("labels") for p in data.rglob("*"))  # records live in the workspace


def test_suggest_and_label_commands_round_trip_a_reviewed_csv(tmp_path, capsys):
    from tlcore.jobs.train import create_run

    data = dataset()
    pool = pool_folder(tmp_path / "pool", 4)
    (pool / "=HYPERLINK(1).png").write_bytes(image(2, 60))  # a formula for a file name
    run = tmp_path / "run"
    create_run(TrainConfig(data=data, model=MODEL, image_size=SIZE, epochs=1), run)
    assert main(["suggest", "--run", str(run), "--pool", str(pool), "--csv", str(tmp_path / "out.csv")]) == 0
    out = capsys.readouterr().out
    assert "Added 13 images to the unlabelled pool (now 13)." in out and "wrote" in out
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "file,class,probability" and len(lines) == 14
    assert "'=HYPERLINK(1).png" in (tmp_path / "out.csv").read_text()
    assert all(0 < float(line.rsplit(",", 1)[1]) <= 1 for line in lines[1:])
    reviewed = lines[:1] + [line if "u0-" not in line else line.rsplit(",", 2)[0] + ",red,1" for line in lines[1:6]]
    (tmp_path / "out.csv").write_text("\n".join(reviewed) + "\n")
    assert main(["label", "--data", data, "--from", str(tmp_path / "out.csv")]) == 0
    assert "labelled 5 images; the dataset now holds 5 checked by a person" in capsys.readouterr().out
    assert len(studio.pool_images(data)) == 8 and len(Dataset.load(data).items) == 14
    assert studio.accuracy_history(data)[0]["labels"] == 9
    kept = home(data).pool_dir / f"features-{MODEL}-{SIZE}.npz"
    assert kept.is_file()
    calls = []
    studio.compute_features(data, MODEL, SIZE, progress=lambda done, total: calls.append(total))
    assert calls == [0]  # computed once: nothing left to compute


def test_bulk_accept_records_the_threshold_and_the_precision_stated(tmp_path):
    data = dataset(per_class=12)
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 4, start=20))
    found = studio.suggestions(data, MODEL, SIZE)
    stated = found.accept(0.5)
    assert stated["precision"] is not None and stated["held_out"] == 36
    done = studio.bulk_accept(data, found, 0.5)
    record = [json.loads(line) for line in (Path(data) / "labels.jsonl").read_text().splitlines()]
    assert done["labelled"] == stated["pool"] == len(record)
    assert {(e["how"], e["threshold"], e["precision"]) for e in record} == {("bulk", 0.5, stated["precision"])}
    assert studio.how_labelled(data)["bulk"] == len(record)


def test_skipped_images_are_asked_about_last_and_each_new_count_adds_a_history_point(tmp_path):
    data = dataset(per_class=2)
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 3, start=20))
    first = studio.suggestions(data, MODEL, SIZE)
    assert studio.skip(data, [first.rows[0]["name"]]) == 1
    again = studio.suggestions(data, MODEL, SIZE)
    assert again.rows[-1]["name"] == first.rows[0]["name"] and again.rows[-1]["skipped"]
    studio.confirm(data, [(r["name"], r["class"]) for r in again.rows[:3]])
    studio.suggestions(data, MODEL, SIZE)
    assert [p["labels"] for p in studio.accuracy_history(data)] == [6, 9]


def test_a_run_records_how_its_labels_were_made_and_its_card_says_so(tmp_path):
    from tlcore.data.labels import labels_made
    from tlcore.jobs.train import create_run
    from tlcore.use.card import labels_line

    data = dataset()
    assert labels_made(data) is None  # every label came with its image: nothing to say
    assert create_run(TrainConfig(data=data), tmp_path / "before").record().labels is None
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 2))
    studio.confirm(data, [("u0-10.png", "red"), ("u1-10.png", "green")])
    made = create_run(TrainConfig(data=data), tmp_path / "after").record().labels
    assert made == studio.how_labelled(data) == {"person": 2, "bulk": 0, "imported": 9}
    assert labels_line(made) == ("- **Labels:** 2 checked by a person, 0 accepted in bulk from the model's "
                                 "suggestions, 9 came with their class folders")
