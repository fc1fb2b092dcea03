"""Stop ends a run within seconds in every phase, says what it waits for, and the run records the
phase it stopped in; the progress bar moves before training starts."""

import signal
import threading
import time

import pytest

from tlcore.config import TrainConfig
from tlcore.jobs import interrupt, runs
from tlcore.jobs.interrupt import StopAsked, stop_promptly
from tlcore.jobs.train import NOTHING_KEPT, create_run, execute
from tlcore.training.progress import fraction, stopping_words

STOP_WITHIN = 10.0
REACH_WITHIN = 240.0  # a busy 2-core machine exports the network's ONNX model first


def _stop_when(run, phase: str) -> dict:
    """Ask the run to stop from a watching thread as soon as it reports ``phase``; what it saw then."""
    seen: dict = {}

    def watch() -> None:
        deadline = time.monotonic() + REACH_WITHIN
        while time.monotonic() < deadline and not run.status().state in ("finished", "failed", "cancelled"):
            progress = runs.progress(run)
            if progress and progress["phase"] == phase:
                seen.update(progress=progress, asked=time.monotonic())
                run.request_cancel()
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    return seen


@pytest.mark.parametrize("phase,augment", [pytest.param("embed", "light", id="features"),
                                           pytest.param("cv", "none", id="cross-validation", marks=pytest.mark.slow)])
def test_stop_ends_the_run_within_seconds_before_training(digits, tmp_path, phase, augment):
    # Every setting given: the run goes straight from loading to features, and its 1,000 epochs of
    # cross-validation last long enough to be caught.
    cfg = TrainConfig(data=digits, trainable_stages=0, evaluation="cv", recipe="fastest", epochs=1000,
                      augment=augment, image_size=96, device="cpu")
    run = create_run(cfg, tmp_path / "run")
    seen = _stop_when(run, phase)
    state = execute(run.path)
    ended = time.monotonic()
    assert seen, f"the run never reported {phase}"
    assert state == "cancelled" and run.status().message == NOTHING_KEPT, run.status()
    assert ended - seen["asked"] < STOP_WITHIN, f"Stop took {ended - seen['asked']:.1f} s"
    assert seen["progress"]["fraction"] > 0, seen  # the bar moved before training began
    assert seen["progress"]["stopping"] == stopping_words(phase)
    [stopped] = run.events("stopped")
    assert stopped["phase"] == phase
    assert not run.epochs()


def test_progress_never_goes_back_and_moves_in_every_phase(digits, tmp_path):
    cfg = TrainConfig(data=digits, trainable_stages=0, epochs=3, augment="none", image_size=64, device="cpu")
    run = create_run(cfg, tmp_path / "run")
    assert execute(run.path) == "finished"
    events, shown = run.events(), []
    for k, event in enumerate(events):
        if event["type"] in ("progress", "plan"):
            shown.append((event.get("phase"), fraction(events[:k + 1], 0, 3)))
    fractions = [f for _, f in shown]
    assert fractions == sorted(fractions), shown
    phases = {phase for phase, f in shown if phase and f > 0}
    assert {"decode", "load", "embed", "cv", "train"} <= phases, shown
    assert fractions[-1] == pytest.approx(1.0)


def test_a_step_without_stop_checks_is_ended_by_the_stop():
    asked = time.monotonic()
    with pytest.raises(StopAsked):
        with stop_promptly(lambda: True, acted=lambda: False, kept=lambda: False):
            time.sleep(30)  # a step that never asks whether to stop (exporting a network)
    assert time.monotonic() - asked < interrupt.GRACE_SECONDS + 2
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


@pytest.mark.parametrize("acted,kept", [(True, False), (False, True)], ids=["training-saw-it", "model-kept"])
def test_a_stop_that_training_handles_is_left_to_it(acted, kept):
    with stop_promptly(lambda: True, acted=lambda: acted, kept=lambda: kept):
        time.sleep(interrupt.GRACE_SECONDS + 1)  # no StopAsked: training's own check saves the model
