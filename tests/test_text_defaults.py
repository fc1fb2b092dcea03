"""The model a text dataset trains is decided once, where every run is made: a run, a Plan, a sweep
or a learning curve asked for with the default (image) model on texts trains the text model, and an
image dataset keeps the image model."""

import json
from pathlib import Path

from text_fixtures import write_table

from tlcore.config import DEFAULT_MODEL, TrainConfig
from tlcore.jobs.curve import learning_curve
from tlcore.jobs.sweep import sweep
from tlcore.jobs.train import create_run, execute
from tlcore.rundir import RunDir
from tlcore.studio import plan
from tlcore.training.text_inputs import TEXT_MODEL, for_data


def test_the_default_model_on_texts_is_the_text_model_and_images_keep_theirs(tmp_path):
    table = write_table(tmp_path / "reviews.csv")
    images = tmp_path / "images" / "cat"
    images.mkdir(parents=True)
    (images / "a.png").write_bytes(b"")
    assert for_data(TrainConfig(data=str(table))).model == TEXT_MODEL
    assert for_data(TrainConfig(data=str(tmp_path / "images"))).model == DEFAULT_MODEL
    assert for_data(TrainConfig(data=str(table), model="resnet18")).model == "resnet18"  # asked for: kept


def test_create_run_and_plan_on_a_text_table_with_every_default_train_the_text_model(tmp_path):
    table = write_table(tmp_path / "reviews.csv")
    request = TrainConfig(data=str(table), device="cpu")
    assert request.model == DEFAULT_MODEL
    assert plan(request, "cpu").config.model == TEXT_MODEL
    run = create_run(request, tmp_path / "run")
    assert run.record().config.model == TEXT_MODEL
    assert execute(run.path) == "finished", RunDir(run.path).status().error
    assert run.record().config.model == TEXT_MODEL and run.metrics().score.split == "cv"


def test_a_sweep_on_texts_with_the_default_model_trains_the_text_model(tmp_path):
    table = write_table(tmp_path / "reviews.csv")
    rows = sweep(TrainConfig(data=str(table), epochs=2, augment="none", device="cpu"), "0", False, tmp_path / "sweep")
    assert [(r["depth"], r["state"]) for r in rows] == [(0, "finished")]
    assert RunDir(rows[0]["run"]).record().config.model == TEXT_MODEL


def test_a_learning_curve_on_texts_trains_the_text_model_on_growing_shares_scored_on_the_same_texts(tmp_path):
    table = write_table(tmp_path / "reviews.csv")
    out = tmp_path / "curve"
    rows = learning_curve(TrainConfig(data=str(table), trainable_stages=0, augment="none", epochs=5, device="cpu"),
                          out, fractions=(0.5, 1.0))
    assert [(r["fraction"], r["state"]) for r in rows] == [(0.5, "finished"), (1.0, "finished")]
    assert [r["images_per_class"]["food"] for r in rows] == [3, 6]  # 8 texts a class, 2 held out
    assert all(RunDir(r["run"]).record().config.model == TEXT_MODEL for r in rows)
    assert RunDir(rows[0]["run"]).record().dataset.name.endswith("(50% of training texts)")  # its share, as texts
    val = [sorted(i["path"] for i in json.loads((Path(r["run"]) / "dataset.json").read_text())["items"]
                  if i["split"] == "val") for r in rows]
    assert val[0] == val[1] and len(val[0]) == 6 and all(p.startswith("reviews.csv row ") for p in val[0])
