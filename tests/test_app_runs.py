"""The studio's Runs page: the table, comparing runs, opening one in Evaluate, training again."""

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import charts, studio, texts

from pages import ui
from tlcore.studio import list_curves, list_sweeps
from tlcore.rundir import RunDir
from tlcore.workspace import sweeps_dir


def test_no_runs_yet_points_to_training():
    at = studio("runs")
    assert "No runs yet. Every training run you start is kept here." in texts(at.info)
    assert at.get("page_link")[0].proto.label == "Go to Train"


def _second(workspace_run: str) -> str:
    second = Path(workspace_run).with_name("20250102-000000-efficientnet_lite0")
    shutil.copytree(workspace_run, second)
    run = RunDir(second)
    run.write_record(replace(run.record(), created=run.record().created + 60))
    return str(second)


def _title(workspace_run: str) -> str:
    """The default name of the fixture's run: its images, model and strategy, from config.json."""
    record = RunDir(workspace_run).record()
    assert record.config.trainable_stages == 0  # the tiny run only trains a new final layer
    return f"{record.dataset.name} · Lite0 · last layer only"


def test_runs_are_listed_and_compared(workspace_run):
    second = _second(workspace_run)
    at = studio("runs")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    title = _title(workspace_run)  # the same settings twice: told apart by number, and by start time
    assert table["Run"].tolist() == [f"{title} #2", title]  # newest first
    assert table["Started"].nunique() == 2
    ids = (Path(second).name, Path(workspace_run).name)
    assert not any(i in str(v) for i in ids for v in table.to_numpy().ravel())  # no folder ids
    assert table["State"].tolist() == ["Finished", "Finished"]
    score = RunDir(workspace_run).metrics().score  # the one score of the kept model, from metrics.json
    assert table["Epochs"][0] == "2 of 2" and score.where == "40 test images"
    assert table["Score"].tolist() == [f"{score.accuracy:.0%} (40 test images)"] * 2
    curves = charts(at)["Accuracy on held-out images"]
    assert sorted(t.name for t in curves.data) == sorted(table["Run"])
    side_by_side = at.dataframe[1].value
    assert list(side_by_side.columns) == table["Run"].tolist()
    assert side_by_side.loc["Stages trained"].tolist() == ["0", "0"]
    at.selectbox[0].set_value("val_loss").run()
    assert "Loss on held-out images" in charts(at)


def test_a_run_opens_in_evaluate(workspace_run):
    at = studio("runs")
    next(b for b in at.button if b.label == "Open in Evaluate").click()
    at.run()
    assert at.session_state[ui.RUN] == workspace_run
    assert at.title[0].value == "How good is the model?"


def test_train_again_starts_a_new_run_with_the_same_settings(workspace_run):
    at = studio("runs")
    next(b for b in at.button if b.label == "Train again with the same settings").click()
    at.run()
    new = RunDir(at.session_state[ui.RUN])
    new.request_cancel()  # the copy only needs to exist; do not spend the CPU on it
    assert new.path != Path(workspace_run) and new.path.parent == Path(workspace_run).parent
    assert new.record().config == RunDir(workspace_run).record().config
    assert new.record().parent == workspace_run
    assert at.title[0].value == "Train"


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_the_runs_table_fits_beside_the_sidebar_at_1400_pixels(workspace_run):
    at = studio("runs")
    config = json.loads(at.dataframe[0].proto.columns)
    assert config.pop("_index") == {"hidden": True}
    widths = [c.get("width") for c in config.values()]
    # Every column has a fixed width, and together they fit the page at 1400 px: headless Chromium
    # at 1400 x 900 drew the table (width "stretch") 938 px wide inside its border beside the sidebar.
    assert len(widths) == len(at.dataframe[0].value.columns) and all(isinstance(w, int) for w in widths)
    assert sum(widths) <= 938


def test_tags_are_saved_and_shown_in_the_table(workspace_run):
    at = studio("runs")
    assert at.dataframe[0].value["Tags"].tolist() == [""]
    at.text_input(key=f"tags_{Path(workspace_run).name}").set_value("baseline, demo ,, baseline")
    _button(at, "Save tags").click()
    at.run()
    assert not at.exception and not at.error
    assert RunDir(workspace_run).tags() == ["baseline", "demo"]
    assert at.dataframe[0].value["Tags"].tolist() == ["baseline, demo"]


def test_parent_is_shown_and_links_both_ways(workspace_run):
    child = _second(workspace_run)
    RunDir(child).write_record(replace(RunDir(child).record(), parent=workspace_run))
    at = studio("runs")
    title = _title(workspace_run)
    _button(at, f"Made from {ui.md_safe(title)}").click()
    at.run()
    assert at.selectbox(key="runs_pick").value == workspace_run
    assert any(b.label == f"Trained again as {ui.md_safe(title + ' #2')}" for b in at.button)  # shows "#2"


def test_delete_needs_confirmation_and_removes_the_folder(workspace_run):
    name, title = Path(workspace_run).name, _title(workspace_run)
    at = studio("runs")
    assert _button(at, "Delete this run").disabled
    at.checkbox(key=f"delete_sure_{name}").check().run()
    _button(at, "Delete this run").click()
    at.run()
    assert not at.exception and not at.error
    assert not Path(workspace_run).exists()
    assert f"Run {title} deleted." in texts(at.success)
    assert "No runs yet. Every training run you start is kept here." in texts(at.info)


def test_a_run_still_training_is_not_deleted(workspace_run):
    run = RunDir(workspace_run)
    with run.worker_lock():  # this test's own process is its worker, holding the run's lock
        run.set_status("running")
        name = Path(workspace_run).name
        at = studio("runs")
        at.checkbox(key=f"delete_sure_{name}").check().run()
        _button(at, "Delete this run").click()
        at.run()
    assert not at.exception
    assert f"Run {_title(workspace_run)} is still training; stop it before deleting it." in texts(at.error)
    assert Path(workspace_run).exists()


def test_two_runs_are_compared_setting_by_setting(workspace_run):
    second = _second(workspace_run)
    record = RunDir(second).record()
    RunDir(second).write_record(replace(record, config=record.config.with_(epochs=3)))
    at = studio("runs")
    assert not at.exception and not at.error
    settings, scores = at.dataframe[2].value, at.dataframe[3].value
    a, b = f"{_title(workspace_run)} #2", _title(workspace_run)  # newest first
    assert settings.set_index("Setting").loc["Epochs"].tolist() == ["3", "2"]
    score = RunDir(workspace_run).metrics().score
    assert scores.set_index("Score").loc["The saved model's score", [a, b]].tolist() == [score.sentence()] * 2


def test_sweep_without_images_points_to_data():
    at = studio("runs")
    assert "First bring your labelled images on the Data page." in texts(at.info)
    assert "Go to Data" in [link.proto.label for link in at.get("page_link")]
    assert not any(b.label == "Start the sweep" for b in at.button)


@pytest.mark.slow
def test_a_sweep_runs_in_the_background_and_its_table_shows(tiny_digits):
    at = studio("runs", **{ui.DATASET: tiny_digits})
    depths = at.multiselect(key="sweep_depths_efficientnet_lite1")
    assert depths.value == [0, 1, 3, 7]  # none, one, half and all of EfficientNet-Lite1's 7 stages
    depths.set_value([0])
    at.number_input(key="sweep_epochs").set_value(1)
    _button(at, "Start the sweep").click()
    at.run()
    assert not at.exception and not at.error
    [started] = list_sweeps()
    assert "0 of 1 strategies finished" in [p.proto.text for p in at.get("progress")]  # the worker is still starting
    assert Path(started["path"]).parent == sweeps_dir() and (Path(started["path"]) / "request.json").is_file()
    end = time.time() + 90
    while not list_sweeps()[0]["done"]:
        assert time.time() < end, (Path(started["path"]) / "sweep.log").read_text()
        time.sleep(1)
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[-1].value
    assert table["Strategy"].tolist() == ["feature extraction (frozen network)"]
    assert 0 <= table["Accuracy"][0] <= 1
    chart = charts(at)[f"Accuracy on validation images per epoch ({started['name']})"]
    assert [t.name for t in chart.data] == ["feature extraction (frozen network)"]
    assert not at.get("progress")  # finished: no progress bar, and no more polling


@pytest.mark.slow
def test_a_learning_curve_is_drawn_per_class_from_the_runs_page(tiny_digits):
    at = studio("runs", **{ui.DATASET: tiny_digits})
    _button(at, "Draw the learning curve").click()
    at.run()
    assert not at.exception and not at.error
    [started] = list_curves(tiny_digits)
    end = time.time() + 120
    while not list_curves(tiny_digits)[0]["done"]:
        assert time.time() < end, (Path(started["path"]) / "curve.log").read_text()
        time.sleep(1)
    at.run()
    assert not at.exception and not at.error
    chart = charts(at)["Share of each class's validation images found, by training images per class"]
    assert len(chart.data) == 10  # one line per digit class
    assert all(len(line.x) == 4 for line in chart.data)  # 25, 50, 75 and 100% of the images
    assert "Overall accuracy: 25% of the images" in texts(at.caption)


def test_each_rows_numbers_come_from_the_split_its_score_names(workspace_run):
    metrics = RunDir(workspace_run).metrics()
    assert metrics.score.split == "test" and metrics.cv is not None  # scored on test images, cross-validated too
    at = studio("runs")
    column = at.dataframe[1].value[_title(workspace_run)]  # the compared runs, side by side
    shown = [column[k] for k in ("Precision", "Recall", "F1 score")]
    test, cv = ([f"{v:.1%}" for v in (s.precision_macro, s.recall_macro, s.f1_macro)]
                for s in (metrics.test, metrics.cv))
    assert shown == test and shown != cv  # the splits differ here, so a row mixing them is caught
    evaluate = studio("evaluate", **{ui.RUN: workspace_run})  # the same numbers as Evaluate's
    assert [{m.label: m.value for m in evaluate.metric}[k] for k in ("Precision", "Recall", "F1 score")] == shown


def test_a_stopped_run_reads_stopped_in_the_tables_and_the_sidebar(workspace_run):
    run = RunDir(workspace_run)
    run.set_status("cancelled", message="Stopped; the best model so far (epoch 1) was kept")
    at = studio("runs", **{ui.RUN: workspace_run})
    assert not at.exception and not at.error
    assert at.dataframe[0].value["State"].tolist() == ["Stopped"]
    assert at.dataframe[1].value.loc["State"].tolist() == ["Stopped"]
    score = ui.score_text(run.metrics().score)
    assert f"**Run:** {_title(workspace_run)} — Stopped · {score}" in texts(at.sidebar.markdown)
    assert at.dataframe[0].value["Score"].tolist() == [score]  # the sidebar's score is the table's
    assert "cancel" not in (texts(at.sidebar.markdown) + texts(at.caption)).lower()
