"""The run record: strict typed parts, every held-out image scored, damaged records contained,
diverging training reported, and a killed run resuming to identical results."""

import json
import os
import shutil
import signal
import zipfile
from pathlib import Path

import pytest
from app_fixtures import TINY, studio, texts
from polling import wait_for

from pages import ui
from tlcore.jobs import runs
from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.record import WRONG_KIND, EpochEvent, Metrics, RecordError, RunRecord, Status
from tlcore.rundir import RunDir
from tlcore.training.divergence import GREW, TOO_LARGE_LOSS, diverging
from tlcore.training.loop import LoopState
from tlcore.jobs.train import create_run, execute
from tlcore.jobs.worker import launch
from wording import pattern

PAGES = ("data", "model", "strategy", "train", "evaluate", "use", "runs")


def test_a_zip_with_train_and_test_folders_scores_every_usable_test_image(fashion_small, tmp_path, capsys):
    archive = tmp_path / "clothes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(fashion_small.rglob("*.png")):
            zf.write(path, f"clothes/{path.relative_to(fashion_small).as_posix()}")
        zf.writestr("clothes/test/bag/broken.png", b"not really a png")  # unusable: skipped, not scored
    out = tmp_path / "run"
    assert main(["train", "--data", str(archive), "--out", str(out), "--epochs", "2", "--image-size", "64",
                 "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["count"] == 40 and metrics["score"]["split"] == "test"
    assert len((out / "predictions-test.csv").read_text().splitlines()) == 41
    assert "test: accuracy" in capsys.readouterr().out


def test_record_parts_round_trip_and_refuse_unknown_or_missing_entries(tmp_path):
    status = Status("running", heartbeat=1.0, pid=5, message="Training")
    assert Status.from_json(json.loads(json.dumps(status.to_json()))) == status
    with pytest.raises(RecordError, match="unknown entries colour"):
        Status.from_json({**status.to_json(), "colour": "red"})
    with pytest.raises(RecordError, match="missing entries state"):
        Status.from_json({"pid": 3})
    with pytest.raises(RecordError, match=pattern(WRONG_KIND, where="status.json", name="heartbeat")):
        Status.from_json({"state": "running", "heartbeat": "soon"})
    cfg = TrainConfig(data="photos")
    record = RunRecord(cfg, cfg, created=1.0, environment={"torch": "x"})
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    with pytest.raises(RecordError, match="cannot be used"):
        RunRecord.from_json({**record.to_json(), "config": {**cfg.to_json(), "epochs": -3}})


def test_a_finished_runs_parts_read_back_exactly(trained_run):
    run = RunDir(trained_run)
    metrics = run.metrics()
    assert Metrics.from_json(json.loads(json.dumps(metrics.to_json()))) == metrics
    assert metrics.to_json() == json.loads(run.metrics_path.read_text())
    event = run.epochs()[-1]
    assert EpochEvent.from_json(event.to_json()) == event and event.held_out == "cv"


def _damage(workspace_run: str, name: str, file: str, text: str) -> str:
    copy = Path(workspace_run).with_name(name)
    shutil.copytree(workspace_run, copy)
    (copy / file).write_text(text)
    return str(copy)


@pytest.fixture
def damaged(workspace_run):
    """Besides a healthy run: a truncated status.json, a config.json with a trailing comma, a
    hand-edited metrics.json, all in the workspace."""
    record = Path(workspace_run, "config.json").read_text().rstrip().rstrip("}") + ",}"
    metrics = json.loads(Path(workspace_run, "metrics.json").read_text())
    return {"status": _damage(workspace_run, "20250103-000000-a", "status.json", '{"state": "runn'),
            "config": _damage(workspace_run, "20250104-000000-b", "config.json", record),
            "metrics": _damage(workspace_run, "20250105-000000-c", "metrics.json",
                               json.dumps({**metrics, "best_guess": 0.99})),
            "healthy": workspace_run}


def test_a_run_whose_record_is_damaged_still_prints_its_scores(damaged, capsys):
    from tlcore.jobs.entry import report_run

    assert report_run(Path(damaged["config"]), "finished") == 0
    out = capsys.readouterr().out
    assert "test: accuracy" in out and "examples)" in out and "state: finished" in out
    report_run(Path(damaged["healthy"]), "finished")
    assert "images)" in capsys.readouterr().out


def test_damaged_records_show_as_damaged_and_never_break_the_listing(damaged):
    rows = {r["name"]: r for r in runs.list_runs()}
    assert len(rows) == 4
    for which in ("status", "config", "metrics"):
        row = rows[Path(damaged[which]).name]
        assert row["state"] == "damaged" and Path(damaged[which]).name in row["error"]
        assert f"{which}.json" in row["error"] and str(Path(damaged[which]).parent) not in row["error"]
    assert rows[Path(damaged["healthy"]).name]["state"] == "finished"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_beside_damaged_runs(damaged, digits, page):
    at = studio(page, **{ui.DATASET: digits, ui.RUN: damaged["healthy"]})
    assert not at.exception, at.exception
    assert not any("Something went wrong" in e.value for e in at.error)


def test_the_runs_page_names_each_damaged_run(damaged):
    at = studio("runs")
    assert not at.exception
    table = at.dataframe[0].value.set_index("Run")
    for which in ("status", "config", "metrics"):
        name = Path(damaged[which]).name
        assert table.loc[name, "State"] == "Damaged record" and name in table.loc[name, "Note"]


def test_a_damaged_current_run_gets_one_plain_line(damaged, digits):
    for page in ("train", "evaluate"):
        at = studio(page, **{ui.DATASET: digits, ui.RUN: damaged["status"]})
        assert not at.exception
        assert not any("Something went wrong" in e.value for e in at.error)


def test_divergence_is_named_not_hidden():
    best = LoopState()
    assert diverging(2.0, 1, best, 10) == "" and diverging(1.0, 2, best, 10) == ""
    assert diverging(2.5, 3, best, 10) == "" and diverging(2.6, 4, best, 10) == ""
    assert diverging(2.7, 5, best, 10) == GREW.format(epochs=3)
    assert diverging(float("nan"), 6, LoopState(), 10) == TOO_LARGE_LOSS.format(epoch=6)


@pytest.mark.slow
def test_a_run_that_diverges_fails_with_advice(fashion_small, tmp_path):
    # Every stage at a learning rate of 10: the network collapses to one answer, no better than
    # the most common class (one stage alone could land above it by chance, and did).
    cfg = TrainConfig(data=str(fashion_small / "train"), model="efficientnet_lite0", trainable_stages="all",
                      backbone_lr_mult=10.0, lr=1.0, epochs=5, augment="none", image_size=32, batch_size=8,
                      weight_decay=0.0, device="cpu")
    run = create_run(cfg, tmp_path / "run")
    with pytest.raises(Exception):
        execute(run.path)
    status = run.status()
    assert status.state == "failed" and "Lower the learning rate under Advanced" in status.error
    assert not run.bundle_path.exists()


@pytest.mark.slow  # fast: test_hostile_process's SIGINT resume to identical results and its SIGKILL'd worker
def test_a_run_killed_mid_training_resumes_to_identical_results(fashion_small, tmp_path):
    cfg = TrainConfig(data=str(fashion_small / "train"), trainable_stages=1, augment="light", epochs=4,
                      image_size=64, batch_size=8, seed=5, device="cpu")
    whole = create_run(cfg, tmp_path / "whole")
    assert execute(whole.path) == "finished"
    killed = create_run(cfg, tmp_path / "killed")
    pid = launch(killed.path)
    wait_for(lambda: len(killed.epochs()) >= 2, 180)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert killed.status().state == "interrupted"
    pid = launch(killed.path)
    os.waitpid(pid, 0)
    assert killed.status().state == "finished" and killed.events("resumed")
    for name in ("metrics.json", "predictions.csv", "bundle/model.safetensors"):
        assert (killed.path / name).read_bytes() == (whole.path / name).read_bytes(), name


def test_cross_validated_runs_see_their_images_in_the_same_order_after_a_resume(fashion_small, tmp_path):
    import torch

    from tlcore.jobs.recorder import load_inputs, use_all_for_training

    cfg = TrainConfig(data=str(fashion_small / "train"), evaluation="cv", **{**TINY, "epochs": 2})
    run = create_run(cfg, tmp_path / "run")
    fresh = use_all_for_training(run, load_inputs(run, cfg, torch.device("cpu")))
    resumed = use_all_for_training(run, load_inputs(run, cfg, torch.device("cpu")))  # dataset.json as merged
    assert len(fresh.train.files) == 48 and fresh.train.files == resumed.train.files
    assert torch.equal(fresh.train.x, resumed.train.x) and torch.equal(fresh.train.y, resumed.train.y)
