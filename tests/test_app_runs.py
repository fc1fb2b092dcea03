"""The studio's Runs page: the table, comparing runs, opening one in Evaluate, training again."""

import shutil
from pathlib import Path

from app_fixtures import charts, studio, texts

from pages import ui
from tlcore.rundir import RunDir


def test_no_runs_yet_points_to_training():
    at = studio("runs")
    assert "No runs yet. Every training run you start is kept here." in texts(at.info)
    assert at.get("page_link")[0].proto.label == "Go to Train"


def _second(workspace_run: str) -> str:
    second = Path(workspace_run).with_name("20250102-000000-efficientnet_lite0")
    shutil.copytree(workspace_run, second)
    record = RunDir(second).read_config()
    RunDir(second).write_config({**record, "created": record["created"] + 60})
    return str(second)


def test_runs_are_listed_and_compared(workspace_run):
    second = _second(workspace_run)
    at = studio("runs")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["Run"].tolist() == [Path(second).name, Path(workspace_run).name]  # newest first
    assert table["State"].tolist() == ["finished", "finished"] and table["Model"][0] == "EfficientNet-Lite0"
    assert table["Epochs"][0] == "2 of 2" and 0 <= table["Best accuracy"][0] <= 1
    curves = charts(at)["Accuracy on validation images"]
    assert sorted(t.name for t in curves.data) == sorted(table["Run"])
    side_by_side = at.dataframe[1].value
    assert list(side_by_side.columns) == table["Run"].tolist()
    assert side_by_side.loc["Stages trained"].tolist() == ["0", "0"]
    at.selectbox[0].set_value("val_loss").run()
    assert "Loss on validation images" in charts(at)


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
    assert new.read_config()["config"] == RunDir(workspace_run).read_config()["config"]
    assert new.read_config()["parent"] == workspace_run
    assert at.title[0].value == "Train"
