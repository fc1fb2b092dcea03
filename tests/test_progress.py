"""The progress line a user watches: believable rates, and a time left that does not jump about."""

import shutil

import pytest

from tlcore.jobs import runs
from tlcore.config import TrainConfig
from tlcore.training.progress import Throttle
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
    assert event["images_per_second"] is None and event["eta_seconds"] is None
