"""The studio's Train page: a real run in its own process, live charts, stop, and recovery after a reload."""

import os
from pathlib import Path

import pytest
from app_fixtures import LAUNCHER, TINY, charts, studio, texts, wait_until
from streamlit.testing.v1 import AppTest

from pages import ui
from pages.train import describe_run
from tlcore.config import TrainConfig
from tlcore.rundir import RunDir
from tlcore.jobs.runs import title_of
from tlcore.jobs.train import STOPPED_KEPT, create_run
from tlcore.workspace import runs_dir
from tlcore.training.progress import Progress, emit_progress

RUNNING = "20250105-120000-efficientnet_lite0"  # a run folder name
CURVES = {"Loss", "Accuracy", "Precision", "Recall", "Recall of each class (held-out images)"}


def test_train_needs_a_dataset_first():
    at = studio("train")
    assert "First bring your labelled images on the Data page." in texts(at.info)
    assert not at.button


@pytest.mark.slow
def test_a_run_started_from_the_page_trains_in_the_background_and_shows_its_charts(digits):
    settings = {f"opt_{k}": v for k, v in TINY.items() if k not in ("model", "trainable_stages")}
    at = studio("train", **{ui.DATASET: digits, "opt_stages": 0, **settings})
    assert "keeps EfficientNet-Lite1 as it is and trains only a new last layer, **2** epochs" in texts(at.markdown)
    assert "on this computer's processor (CPU)." in texts(at.markdown)
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    run = RunDir(at.session_state[ui.RUN])
    assert run.path.parent == runs_dir() and run.record().config.epochs == 2
    assert at.query_params["run"] in (run.name, [run.name])  # a reload of this tab comes back to it
    # The sidebar is drawn before the page: a run that ends in between shows as finished in both on
    # the next poll.
    wait_until(at, lambda at: "Finished" in texts(at.subheader) and " — Finished" in texts(at.sidebar.markdown))
    assert not at.exception and not at.error
    assert run.status().state == "finished"
    assert set(charts(at)) == CURVES
    assert ("**This run:** keeps EfficientNet-Lite1 as it is and trains only a new last layer, 2 epochs, "
            "images at 64 pixels, on this computer's processor (CPU).") in texts(at.markdown)
    loss = charts(at)["Loss"]
    # a frozen network on 10 images a class is cross-validated: every image is held out once
    assert [t.name for t in loss.data] == ["training images", "cross-validated images"]
    assert loss.data[0].line.dash != loss.data[1].line.dash and loss.data[0].line.color != loss.data[1].line.color
    assert list(loss.data[0].x) == [1, 2]
    assert f"**Score of the saved model:** {run.metrics().score.sentence()}." in texts(at.markdown)
    per_class = charts(at)["Recall of each class (held-out images)"]
    assert len(per_class.data) == 10  # one line per digit
    # the sidebar says the state in the page's word, with the score the Runs table and Evaluate show
    assert f"**Run:** {title_of(run)} — Finished · {ui.score_text(run.metrics().score)}" in texts(at.sidebar.markdown)
    next(b for b in at.button if b.label == "See how good it is").click().run()
    assert at.title[0].value == "How good is the model?" and at.session_state[ui.PICKED] == str(run.path)


def _running_run(data: str, **settings) -> RunDir:
    """A run that looks alive to the app (this test process is its 'worker')."""
    run = create_run(TrainConfig(data=data, **{**TINY, **settings}), runs_dir() / RUNNING)
    run.set_status("running", message="Training: epoch 1 of 2", epoch=1)
    run.append_event("plan", phases=[["decode", 1.0], ["train", 3.0]], after=0.0)
    emit_progress(run.append_event, Progress("train", 40, 80, epoch=1, epochs=2, per_second=20.0))
    return run


def test_a_running_run_shows_progress_and_can_be_stopped(digits):
    run = _running_run(digits)
    at = studio("train", **{ui.DATASET: digits, ui.RUN: str(run.path)})
    assert f"Run {title_of(run)}: Training" in texts(at.subheader)
    bar = at.get("progress")[0]
    # the images read (1 of 4 typical seconds), then half of epoch 1 of 2 (a quarter of 3): 43% of the run;
    # at 20 images/s, 1.5 epochs of 80 images are left
    assert bar.proto.value == 43 and "20 images/s · about 6 s left" in bar.proto.text
    assert "Start another run (it waits for the current one)" in [b.label for b in at.button]
    next(b for b in at.button if b.label == "Stop").click()
    at.run()
    assert run.cancel_requested()
    assert f"Run {title_of(run)}: Stopping" in texts(at.subheader)
    assert "Stopping: finishing the current batch of training; the best model so far is kept…" in texts(at.caption)
    assert "Stop" not in [b.label for b in at.button]
    # the worker says what it saves while it finishes, and the page shows it
    run.set_status("running", message="Stopping: saving the model and scoring it on 261 test images…", epoch=1)
    at.run()
    assert "Stopping: saving the model and scoring it on 261 test images…" in texts(at.caption)
    run.set_status("cancelled", message=STOPPED_KEPT.format(epoch=1))
    at.run()
    assert f"Run {title_of(run)}: Stopped" in texts(at.subheader)
    assert STOPPED_KEPT.format(epoch=1) in texts(at.success)


@pytest.mark.slow
def test_the_bar_moves_and_the_words_match_the_phase_before_training(digits):
    run = _running_run(digits)
    run.set_status("running", message="Cross-validation: epoch 14 of 40")
    run.append_event("plan", phases=[["embed", 2.0], ["cv", 1.0], ["train", 1.0]], after=0.2)
    emit_progress(run.append_event, Progress("cv", 13, 40, per_second=3.0, images=False))  # 27 epochs at 3 a second
    at = studio("train", **{ui.DATASET: digits, ui.RUN: str(run.path)})
    bar = at.get("progress")[0]
    # 20% before this plan, then the features (2 of 4) and 13 of 40 cross-validation epochs (1 of 4)
    assert bar.proto.value == 66 and bar.proto.text == "Cross-validation: epoch 14 of 40 · about 9 s left in this step"
    assert ("The charts follow the final model's training and appear after its first epoch. Now: cross-validation."
            in texts(at.caption))
    next(b for b in at.button if b.label == "Stop").click()
    at.run()
    assert "Stopping: finishing the current step of the cross-validation…" in texts(at.caption)


def test_the_run_header_describes_the_run_not_the_current_settings(digits):
    run = _running_run(digits, trainable_stages=3, epochs=20)
    at = studio("train", **{ui.DATASET: digits, ui.RUN: str(run.path), "opt_stages": 0, "opt_epochs": 40,
                            "opt_image_size": 64, "opt_device": "cpu"})
    assert not at.exception and not at.error
    shown = texts(at.markdown)
    assert ("**This run:** fine-tunes the last 3 of 7 stages of EfficientNet-Lite0, 20 epochs, images at 64 pixels, "
            "on this computer's processor (CPU).") in shown
    assert "**Next run:**" in shown and "keeps EfficientNet-Lite1 as it is and trains only a new last layer, **40** epochs" in shown
    assert shown.index("**This run:**") > shown.index("**Next run:**")


def test_a_run_is_described_from_its_record_in_words():
    record = lambda **kw: type("R", (), {"config": TrainConfig(data="d", **{**TINY, **kw}),
                                         "environment": {"cuda": "NVIDIA H200"}})()
    assert describe_run(record(trainable_stages=7, device="auto", image_size=0, epochs=1)) == (
        "**This run:** fine-tunes the whole EfficientNet-Lite0 network, 1 epoch, images at 224 pixels, "
        "on the graphics card (NVIDIA H200).")
    assert describe_run(record(trainable_stages="auto", epochs=None)).startswith(
        "**This run:** fine-tunes as many stages of EfficientNet-Lite0 as recommended (decided when it starts), "
        "the recommended number of epochs,")
    assert describe_run(record(trainable_stages=0)).endswith("on this computer's processor (CPU).")
    assert describe_run(record(world_size=4)).endswith("on this computer's processor (CPU), on 4 processes at once.")
    lite1 = dict(model="efficientnet_lite1", image_size=0)  # its own size on a graphics card, 208 on a processor
    assert "images at 240 pixels, on the graphics card" in describe_run(record(device="auto", **lite1))
    assert "images at 208 pixels, on this computer's processor" in describe_run(record(device="cpu", **lite1))


def test_a_pool_of_several_devices_offers_one_run_on_all_the_free_ones(digits, monkeypatch):
    settings = {f"opt_{k}": v for k, v in TINY.items() if k not in ("model", "trainable_stages")}
    at = studio("train", **{ui.DATASET: digits, "opt_stages": 0, **settings})
    assert not at.checkbox  # one processor: nothing to choose
    monkeypatch.setenv("TLSTUDIO_DEVICES", "cpu,cpu")
    at.run()
    [spread] = at.checkbox
    assert spread.label == "Train this run on all 2 free processor slots at once" and not spread.value
    spread.check().run()
    assert "on this computer's processor (CPU), on 2 processes at once." in texts(at.markdown)


def test_a_reload_finds_the_active_run_again(digits):
    run = _running_run(digits)
    assert RunDir(run.path).status().pid == os.getpid()
    at = studio()  # a new browser session: nothing in its state
    assert at.session_state[ui.RUN] == str(run.path) and at.session_state[ui.DATASET] == digits
    assert f"**Run:** {title_of(RunDir(runs_dir() / RUNNING))} — Training (44%)" in texts(at.sidebar.markdown)


def test_a_reloaded_tab_finds_its_own_run_even_when_another_is_newer(digits, workspace_run):
    _running_run(digits)  # someone else's, newer and active
    at = AppTest.from_string(LAUNCHER, default_timeout=60)
    at.query_params["run"] = Path(workspace_run).name  # the address this tab had before the reload
    at.run()
    assert at.session_state[ui.RUN] == workspace_run
    assert f"**Run:** {title_of(RunDir(workspace_run))} — Finished" in texts(at.sidebar.markdown)


def test_a_failed_run_shows_its_message(digits):
    run = _running_run(digits)
    run.set_status("failed", error="The images could not be read.", message="Failed")
    at = studio("train", **{ui.DATASET: digits, ui.RUN: str(run.path)})
    assert "The images could not be read." in texts(at.error)
    assert not at.exception


def test_the_next_run_shows_the_image_size_the_worker_will_use(digits):
    from tlcore.models.catalog import get_spec
    from tlcore.training.inputs import image_size_for

    at = studio("train", **{ui.DATASET: digits, "opt_device": "cpu"})
    size = image_size_for(TrainConfig(data=digits, device="cpu"), "cpu")  # the worker's own decision
    assert size == 208 != get_spec("efficientnet_lite1").image_size  # Lite1's processor size, not its 240
    assert (f"images at {size} pixels, augmentation as recommended, on this computer's processor (CPU)."
            in texts(at.markdown))
