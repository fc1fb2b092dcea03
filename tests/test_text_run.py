"""Text runs through the real engine and the command line: a table of texts is detected and trains the
sentence encoder frozen (features once, then the head) or fine-tuned (the last layer, with the image
runs' loop and learning rates); scores, calibration, label issues and predictions come out as for
images; a resumed run reads the texts it started with; predict classifies typed texts, .txt files
and tables."""

import csv
import io
import json
import re

import pytest
import torch
from safetensors.torch import load_file
from text_fixtures import TOPICS, UNSEEN, train, write_folders, write_table
from wording import pattern

from tlcore.cli import NO_TEXTS, main
from tlcore.data.texts import UNSURE_COLUMNS
from tlcore.models.catalog import get_spec
from tlcore.models.net import build_backbone
from tlcore.rundir import RunDir
from tlcore.jobs.recorder import load_inputs
from tlcore.training.text_inputs import TEXT_MODEL, is_text_source

TEXTS = sum(map(len, TOPICS.values()))


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """Every choice left to the studio: a frozen encoder, cross-validated on the 24 texts."""
    return RunDir(train(tmp_path_factory, "frozen"))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """The last transformer layer fine-tuned, scored on a validation split."""
    return RunDir(train(tmp_path_factory, "tuned", "--trainable-stages", "1", "--evaluation", "holdout",
                        "--epochs", "3", "--batch-size", "8"))


def test_tables_and_folders_of_txt_files_are_texts(tmp_path):
    table = write_table(tmp_path / "reviews.csv")
    folder = write_folders(tmp_path / "texts")
    images = tmp_path / "images" / "cat"
    images.mkdir(parents=True)
    (images / "a.png").write_bytes(b"")
    assert is_text_source(table) and is_text_source(folder) and not is_text_source(tmp_path / "images")


def test_a_table_trains_the_frozen_text_model_and_is_scored_as_images_are(frozen):
    record = frozen.record()
    cfg = record.config
    assert frozen.status().state == "finished"
    assert (cfg.model, cfg.trainable_stages, cfg.evaluation, cfg.augment, cfg.recipe) == (
        TEXT_MODEL, 0, "cv", "none", "fastest")
    assert record.recommendation["images_kind"] == "text"
    (features,) = frozen.events("features")
    assert features["images"] == TEXTS and features["views"] == 1
    assert all(e.fast_path and e.held_out == "cv" and e.val.count == TEXTS for e in frozen.epochs())
    metrics = json.loads(frozen.metrics_path.read_text())
    assert metrics["score"]["split"] == "cv" and metrics["score"]["images"] == TEXTS
    assert metrics["cv"]["accuracy"] >= 0.8  # three easy topics: a sentence encoder tells them apart
    assert set(metrics["cv"]["per_class"]) == set(TOPICS)
    assert metrics["calibration"]["temperature"] > 0 and "coverage" in metrics["calibration"]
    assert isinstance(metrics["label_issues"], list) and metrics["label_check"]
    rows = list(csv.DictReader(frozen.predictions_path().open()))
    assert len(rows) == TEXTS and all(r["file"].endswith(tuple(f"reviews.csv row {n}" for n in range(2, 26)))
                                      for r in rows)
    texts = json.loads((frozen.path / "texts.json").read_text())
    assert sorted(texts.values()) == sorted(t for ts in TOPICS.values() for t in ts)
    assert (frozen.bundle_path / "tokenizer.json").is_file()


def test_fine_tuning_the_last_layer_changes_it_and_nothing_below(tuned):
    cfg = tuned.record().config
    assert (cfg.trainable_stages, cfg.evaluation, cfg.epochs) == (1, "holdout", 3)
    epochs = tuned.epochs()
    assert [e.epoch for e in epochs] == [1, 2, 3] and not any(e.fast_path for e in epochs)
    assert all(e.val.count == 6 for e in epochs)  # 20% of 8 texts a class: 2 each
    kept = load_file(str(tuned.bundle_path / "model.safetensors"))
    pretrained = build_backbone(get_spec(TEXT_MODEL))[0].state_dict()
    layer = "backbone.bert.encoder.layer.{}.attention.self.query.weight"
    assert torch.equal(kept[layer.format(0)], pretrained["bert.encoder.layer.0.attention.self.query.weight"])
    assert torch.equal(kept["backbone.bert.embeddings.word_embeddings.weight"],
                       pretrained["bert.embeddings.word_embeddings.weight"])
    assert not torch.equal(kept[layer.format(5)], pretrained["bert.encoder.layer.5.attention.self.query.weight"])
    assert tuned.metrics().score.split == "val" and tuned.metrics().val.count == 6


def test_a_resumed_run_reads_the_texts_it_started_with(tuned, tmp_path, monkeypatch):
    """The table changed after the run began: the run folder's texts and split are what it reads."""
    cfg = tuned.record().config
    first = load_inputs(tuned, cfg, torch.device("cpu"))
    with open(cfg.data, "a", encoding="utf-8") as f:
        f.write("A brand new sentence about tennis.,sport\n")
    again = load_inputs(tuned, cfg, torch.device("cpu"))
    for a, b in ((first.train, again.train), (first.val, again.val)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.files == b.files
    assert len(first.train.y) + len(first.val.y) == TEXTS and first.test is None


def test_columns_that_cannot_be_told_apart_are_asked_for(tmp_path, capsys):
    table = tmp_path / "notes.csv"
    table.write_text("a,b\n" + "".join(f"{t},{t[::-1]}\n" for ts in TOPICS.values() for t in ts))  # alike columns
    assert main(["train", "--data", str(table), "--out", str(tmp_path / "run"), "--device", "cpu"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(pattern(UNSURE_COLUMNS, listed="'a', 'b'"), err)
    assert not (tmp_path / "run" / "bundle").exists()


def test_the_columns_named_on_the_command_line_are_used(tmp_path, capsys):
    table = write_table(tmp_path / "notes.csv", header=("words", "kind"))
    assert main(["train", "--data", str(table), "--out", str(tmp_path / "swapped"), "--device", "cpu",
                 "--text-column", "kind", "--label-column", "words"]) != 0  # every sentence a label of its own
    assert "Every class needs at least 2 texts" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main(["train", "--data", str(table), "--out", str(out), "--device", "cpu", "--text-column", "words",
                 "--label-column", "kind", "--epochs", "2", "--evaluation", "holdout"]) == 0
    record = RunDir(out).record()
    assert (record.config.text_column, record.config.label_column) == ("words", "kind")
    assert record.dataset.classes == sorted(TOPICS) and RunDir(out).metrics().val.count == 6


def test_predict_classifies_typed_texts_files_and_tables(frozen, tmp_path, capsys):
    note = tmp_path / "note.txt"
    note.write_text("Light rain and wind all night.\n", encoding="utf-8")
    table = tmp_path / "new.csv"
    table.write_text("id,text\n1,The chef fried the eggs.\n2,The striker missed a penalty.\n", encoding="utf-8")
    typed = ["It rained all day", "=cmd|' /C calc'!A0 our team won", "two\nlines about soup"]
    args = ["predict", "--run", str(frozen.path), *sum((["--text", t] for t in typed), []), str(note), str(table)]
    assert main(args + ["--csv", str(tmp_path / "out.csv")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 6
    rows = list(csv.reader(io.StringIO("\n".join(printed))))
    assert [r[0] for r in rows] == ["It rained all day", "'=cmd|' /C calc'!A0 our team won",
                                    "two\\nlines about soup", "Light rain and wind all night.",
                                    "The chef fried the eggs.", "The striker missed a penalty."]
    assert [r[1] for r in rows] == ["weather", "sport", "food", "weather", "food", "sport"]
    assert all(0 < float(r[2]) <= 1 for r in rows)
    saved = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert saved[1]["text"].startswith("'=cmd") and set(saved[0]) >= {"p_food", "p_sport", "p_weather"}
    assert main(["predict", "--run", str(frozen.path)]) != 0
    assert capsys.readouterr().err == f"error: {NO_TEXTS}\n"
    assert main(["predict", "--run", str(frozen.path), *UNSEEN[:1]]) != 0  # a text given without --text
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_a_folder_of_txt_files_trains_on_from_an_earlier_text_run(frozen, tmp_path):
    """Class folders of .txt files (one text a file), detected as texts, continuing the frozen run's model."""
    out = tmp_path / "run"
    assert main(["train", "--data", str(write_folders(tmp_path / "texts")), "--out", str(out), "--device", "cpu",
                 "--init-from", str(frozen.path), "--epochs", "2", "--evaluation", "holdout"]) == 0
    run = RunDir(out)
    assert run.record().config.model == TEXT_MODEL and run.record().dataset.classes == sorted(TOPICS)
    assert run.metrics().growth["old_classes"] == sorted(TOPICS) and run.metrics().val.count == 6
    texts = json.loads((run.path / "texts.json").read_text())
    assert all(key.endswith(".txt") for key in texts) and len(texts) == TEXTS
