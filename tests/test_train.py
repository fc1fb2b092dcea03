"""Training runs end to end on the CPU: outputs, cancel and resume, reproducibility, bad input."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from polling import wait_for

from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.rundir import RunDir
from tlcore.jobs.train import STOPPED_KEPT, create_run, execute
from tlcore.jobs.worker import launch
from tlcore.training.engine import TEST_SKIPPED
from wording import pattern

SMALL = dict(model="efficientnet_lite0", image_size=64, batch_size=8, device="cpu")


def test_cli_train_writes_the_whole_run_directory(fashion_small, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", str(fashion_small / "train"), "--test", str(fashion_small / "test"),
                 "--out", str(out), "--trainable-stages", "0", "--epochs", "3", "--augment", "none",
                 "--image-size", "64", "--device", "cpu"])
    assert code == 0
    run = RunDir(out)
    assert run.status().state == "finished"
    record = run.record()
    assert record.config.trainable_stages == 0 and record.config.evaluation == "cv" and record.environment["torch"]
    epochs = run.epochs()
    assert [e.epoch for e in epochs] == [1, 2, 3] and all(e.fast_path and e.held_out == "cv" for e in epochs)
    assert all(e.val.count == 48 and e.train.loss is not None for e in epochs)  # all 48 images, out of fold
    metrics = json.loads(run.metrics_path.read_text())
    assert set(metrics) >= {"score", "estimate", "cv", "test", "calibration", "label_issues", "kept_epoch"}
    for split in ("cv", "test"):
        m = metrics[split]
        assert set(m) >= {"accuracy", "precision_macro", "recall_macro", "f1_macro", "per_class",
                          "classes", "confusion_matrix", "count"}
        assert set(m["per_class"]["bag"]) == {"precision", "recall", "f1", "support"}
    assert sum(map(sum, metrics["test"]["confusion_matrix"])) == metrics["test"]["count"] == 40
    assert metrics["score"] == {**metrics["score"], "split": "test", "images": 40,
                                "accuracy": metrics["test"]["accuracy"]}
    estimate = metrics["estimate"]
    assert estimate["method"] == "5-fold cross-validation" and estimate["images"] == 48
    assert estimate["low"] <= estimate["accuracy"] == metrics["cv"]["accuracy"] <= estimate["high"]
    rows = list(csv.DictReader(run.predictions_path().open()))
    assert len(rows) == 48 and len(list(csv.DictReader(run.predictions_path("test").open()))) == 40
    assert {"file", "true", "predicted", "confidence", "p_bag"} <= set(rows[0])
    bundle = json.loads((run.bundle_path / "model.json").read_text())
    assert bundle["classes"] == ["bag", "sandal", "t-shirt", "trouser"] and bundle["trainable_stages"] == 0
    out = capsys.readouterr().out
    assert f"score: {run.metrics().score.sentence()}" in out


@pytest.mark.slow
def test_seeded_runs_are_reproducible_on_cpu(fashion_small, tmp_path):
    def train(name, **kw):
        cfg = TrainConfig(data=str(fashion_small / "train"), epochs=2, seed=3, **SMALL, **kw)
        run = create_run(cfg, tmp_path / name)
        assert execute(run.path) == "finished"
        return run.metrics_path.read_text(), run.predictions_path().read_text()

    assert train("a", trainable_stages=1, augment="light") == train("b", trainable_stages=1, augment="light")
    assert train("c", trainable_stages=0, augment="none") == train("d", trainable_stages=0, augment="none")
    # a frozen network with augmentation: the head learns from features of fixed augmented views
    assert train("e", trainable_stages=0, augment="strong") == train("f", trainable_stages=0, augment="strong")
    [features] = RunDir(tmp_path / "e").events("features")
    assert features["views"] == 2 and all(e["fast_path"] for e in RunDir(tmp_path / "e").events("epoch"))


@pytest.mark.slow
def test_cancel_keeps_the_best_model_and_a_killed_run_resumes(fashion_small, tmp_path):
    cfg = TrainConfig(data=str(fashion_small / "train"), epochs=200, trainable_stages=2, augment="light", **SMALL)
    run = create_run(cfg, tmp_path / "run")
    pid = launch(run.path)
    wait_for(lambda: len(run.events("epoch")) >= 1, 120)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert run.status().state == "interrupted"
    done_before = len(run.events("epoch"))
    assert run.checkpoint_path.is_file()

    pid = launch(run.path)  # resume from the checkpoint, then cancel it mid-way
    wait_for(lambda: len(run.events("epoch")) > done_before, 120)
    run.request_cancel()
    os.waitpid(pid, 0)
    status = run.status()
    assert status.state == "cancelled", status
    resumed = run.events("resumed")
    assert resumed and resumed[0]["epoch"] >= 1
    epochs = [e["epoch"] for e in run.events("epoch")]
    assert epochs == list(range(1, len(epochs) + 1))  # resumed where it stopped: no repeats, no gaps
    assert len(epochs) < 200
    assert (run.bundle_path / "model.safetensors").is_file() and run.metrics_path.is_file()


def test_cancel_before_the_first_epoch_saves_no_model(fashion_small, tmp_path):
    cfg = TrainConfig(data=str(fashion_small / "train"), epochs=5, trainable_stages=0, augment="none", **SMALL)
    run = create_run(cfg, tmp_path / "run")
    run.request_cancel()
    assert execute(run.path) == "cancelled"
    assert not run.bundle_path.exists()


@pytest.mark.slow
@pytest.mark.parametrize("args,words", [
    (["--data", "/no/such/folder"], "does not exist"),
    (["--data", "{one_class}"], "Only one class"),
    (["--data", "{train}", "--trainable-stages", "99"], "between 0 and 7"),
    (["--data", "{train}", "--model", "alexnet9"], "no model called"),
])
def test_cli_bad_input_exits_non_zero_with_one_line(fashion_small, tmp_path, args, words):
    one = tmp_path / "one" / "bag"
    one.mkdir(parents=True)
    for f in list((fashion_small / "train" / "bag").iterdir())[:3]:
        (one / f.name).write_bytes(f.read_bytes())
    args = [a.format(one_class=tmp_path / "one", train=fashion_small / "train") for a in args]
    proc = subprocess.run([sys.executable, "-m", "tlcore", "train", *args, "--out", str(tmp_path / "r"),
                           "--epochs", "1", "--image-size", "64", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], proc.stderr


@pytest.mark.slow
def test_rerun_from_the_record_gives_the_same_metrics(fashion_small, tmp_path):
    first = tmp_path / "first"
    assert main(["train", "--data", str(fashion_small / "train"), "--out", str(first), "--epochs", "2",
                 "--image-size", "64", "--device", "cpu", "--trainable-stages", "1", "--augment", "light"]) == 0
    assert main(["rerun", "--run", str(first), "--out", str(tmp_path / "again")]) == 0
    again = RunDir(tmp_path / "again")
    assert again.record().parent == str(first.resolve())
    assert again.metrics_path.read_text() == (first / "metrics.json").read_text()
    assert again.predictions_path().read_text() == (first / "predictions.csv").read_text()


@pytest.fixture(scope="module")
def fashion_tiny(tmp_path_factory):
    """Fashion-MNIST: 3 classes x 8 images, the smallest dataset a user might try first, and 3 x 8 test images."""
    from datasets import FASHION_CLASSES, fashion_mnist, pick_per_class, write_class_folders

    root = tmp_path_factory.mktemp("tiny")
    x, y = fashion_mnist("train")
    write_class_folders(root / "train", x, y, FASHION_CLASSES, pick_per_class(y, 8, [0, 1, 5]))
    tx, ty = fashion_mnist("test")
    write_class_folders(root / "test", tx, ty, FASHION_CLASSES, pick_per_class(ty, 8, [0, 1, 5]))
    return root


# The frozen network scores its test images from features computed before training; a fine-tuned one
# would run them through the whole network after the Stop, which a Stop skips: its score is on validation.
# Both cases are slow: Stop stays in the fast default through tests/test_stop.py (the features phase), the
# Train page's Stop (tests/test_app_train.py) and test_engine's stop from the reporter.
@pytest.mark.parametrize("stages,evaluation,test,scored", [
    pytest.param(0, "holdout", "test", "test", id="frozen", marks=pytest.mark.slow),
    pytest.param(1, "auto", "test", "val", id="fine-tune", marks=pytest.mark.slow)])
def test_stop_ends_a_real_run_within_seconds_and_keeps_its_best_model(fashion_tiny, tmp_path, stages, evaluation,
                                                                      test, scored):
    cfg = TrainConfig(data=str(fashion_tiny / "train"), test_data=str(fashion_tiny / test) if test else "",
                      epochs=1000, trainable_stages=stages, evaluation=evaluation, augment="light", **SMALL)
    run = create_run(cfg, tmp_path / "run")
    pid = launch(run.path)
    try:
        wait_for(lambda: len(run.events("epoch")) >= 1, 180)
        asked = time.monotonic()
        run.request_cancel()
        wait_for(lambda: not run.status().active, 60)
        seconds = time.monotonic() - asked
    finally:  # never leave a worker behind, even when the test fails
        run.request_cancel()
        os.waitpid(pid, 0)
    status = run.status()
    assert status.state == "cancelled" and re.match(pattern(STOPPED_KEPT), status.message), status
    assert (TEST_SKIPPED in status.message) == (scored == "val")
    assert seconds < 10, f"Stop took {seconds:.1f} s"
    assert len(run.events("epoch")) < 1000
    metrics = json.loads(run.metrics_path.read_text())
    assert metrics["score"]["split"] == scored and metrics["kept_epoch"] >= 1  # one score, on a named split
    assert (run.bundle_path / "model.safetensors").is_file()
