"""The progress line a user watches: believable rates, and a time left that does not jump about."""

import shutil

import pytest

from tlcore.jobs import runs
from tlcore.config import TrainConfig
from tlcore.training.progress import Progress, Throttle, emit_progress, read_progress
from tlcore.rundir import RunDir
from tlcore.jobs.train import create_run, execute

MAX_RATE = 100_000


def _replayed(run: RunDir, tmp_path) -> list[dict]:
    """What the Train page would have shown after each event of a finished run, in order."""
    copy = RunDir(tmp_path / "replay")
    shutil.copytree(run.path, copy.path)
    lines = run.events_path.read_text().splitlines(keepends=True)
    shown = []
    for k in range(1, len(lines) + 1):
        copy.events_path.write_text("".join(lines[:k]))
        if lines[k - 1].startswith('{') and '"type": "progress"' in lines[k - 1]:
            shown.append(runs.progress(copy))
    return shown


@pytest.mark.slow
def test_progress_of_a_real_run_never_shows_nonsense(fashion_small, tmp_path, monkeypatch):
    monkeypatch.setattr("tlcore.training.progress.EVERY_SECONDS", 0.0)  # every batch reports, as a slow machine would
    cfg = TrainConfig(data=str(fashion_small / "train"), trainable_stages=1, augment="light", epochs=3,
                      image_size=64, batch_size=8, evaluation="holdout", device="cpu")
    run = create_run(cfg, tmp_path / "run")
    assert execute(run.path) == "finished"
    shown = _replayed(run, tmp_path)
    assert len(shown) > 10
    for p in shown:
        assert p["images_per_second"] is None or 0 < p["images_per_second"] <= MAX_RATE, p
    train = [p["eta_seconds"] for p in shown if p["phase"] == "train" and p.get("eta_seconds") is not None]
    assert train, shown
    for before, after in zip(train, train[1:]):
        assert after <= 3 * max(before, 1.0), (before, after)


def test_a_step_over_in_an_instant_reports_no_rate(tmp_path):
    run = RunDir(tmp_path)
    throttle = Throttle(run.append_event, "decode training")
    throttle.batch(64, 64)  # all at once: a rate over no time would be 10^10 images/s
    [event] = run.events("progress")
    assert read_progress(event) == Progress("decode training", 64, 64) and runs.progress(run)["eta_seconds"] is None


def test_the_time_left_is_worked_out_from_the_event_as_written(tmp_path):
    run = RunDir(tmp_path)
    emit_progress(run.append_event, Progress("decode", 10, 70, per_second=20.0))
    assert read_progress(run.events("progress")[0]) == Progress("decode", 10, 70, per_second=20.0)
    shown = runs.progress(run)
    assert shown["eta_seconds"] == 3.0 and shown["images_per_second"] == 20.0 and shown["phase"] == "decode"
    emit_progress(run.append_event, Progress("cv", 5, 40, per_second=5.0, images=False))  # epochs, not images
    assert runs.progress(run)["eta_seconds"] == 7.0 and runs.progress(run)["images_per_second"] is None
    emit_progress(run.append_event, Progress("train", 40, 80, epoch=2, epochs=3, per_second=40.0))
    assert runs.progress(run)["eta_seconds"] == 1.5 * 80 / 40  # half of epoch 2 and all of epoch 3, at its rate
    # in epoch 3 of 4, two finished: half of it and all of epoch 4, at the finished epochs' mean time
    assert Progress("train", 40, 80, epoch=3, epochs=4).seconds_left([10.0, 14.0]) == 1.5 * 12.0
