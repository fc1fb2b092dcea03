"""Readable run names: made from a run's own record, told apart when repeated, renamed by the user
through RunDir, and shown wherever runs are listed instead of the folder's timestamp."""

from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import goto, studio, texts

from tlcore.jobs import runs
from tlcore.config import TrainConfig
from tlcore.rundir import TITLE_CHARS, RunDir
from tlcore.jobs.train import create_run
from tlcore.workspace import runs_dir


def _run(data: str, folder: str, **settings) -> RunDir:
    """A run folder with its record only (nothing trains)."""
    cfg = TrainConfig(data=data, **{"trainable_stages": 0, "epochs": 1, "device": "cpu", **settings})
    return create_run(cfg, runs_dir() / folder)


def test_the_default_name_is_images_model_and_strategy(tiny_digits):
    names = {stages: runs.default_title(_run(tiny_digits, f"2025010{i}-000000-x", trainable_stages=stages).record())
             for i, stages in enumerate((0, 2, "all"))}
    assert names == {0: "sample-digits-5 · Lite1 · last layer only",
                     2: "sample-digits-5 · Lite1 · fine-tune last 2",
                     "all": "sample-digits-5 · Lite1 · fine-tune all"}
    scratch = _run(tiny_digits, "20250110-000000-x", model="resnet18", weights="none", trainable_stages="all")
    assert runs.default_title(scratch.record()) == "sample-digits-5 · ResNet-18 · from scratch"


def test_runs_with_the_same_settings_are_told_apart_oldest_first(tiny_digits):
    first = _run(tiny_digits, "20250101-000000-efficientnet_lite0")
    second = _run(tiny_digits, "20250102-000000-efficientnet_lite0")
    second.write_record(replace(second.record(), created=first.record().created + 60))
    rows = runs.list_runs()
    assert [r["name"] for r in rows] == [second.name, first.name]  # the id stays the folder's
    assert [r["title"] for r in rows] == ["sample-digits-5 · Lite1 · last layer only #2",
                                          "sample-digits-5 · Lite1 · last layer only"]
    assert runs.summary(first)["title"] == "sample-digits-5 · Lite1 · last layer only"


def test_a_name_given_by_the_user_is_kept_in_the_run_folder_and_shown(tiny_digits):
    run = _run(tiny_digits, "20250101-000000-efficientnet_lite0")
    assert run.title() == ""
    run.set_title("  Baseline\n for the   demo ")
    assert run.title() == "Baseline for the demo"  # one line
    assert RunDir(run.path).title() == "Baseline for the demo"  # on disk, not in memory
    assert [r["title"] for r in runs.list_runs()] == ["Baseline for the demo"]
    run.set_title("x" * 500)
    assert run.title() == "x" * TITLE_CHARS
    run.set_title("   ")  # blank: back to the name made from the record
    assert run.title() == "" and runs.title_of(run) == "sample-digits-5 · Lite1 · last layer only"


def test_a_damaged_name_file_falls_back_to_the_default_name(tiny_digits):
    run = _run(tiny_digits, "20250101-000000-efficientnet_lite0")
    run.set_title("mine")
    [stored] = [p for p in run.path.iterdir() if p.is_file() and p.read_bytes().strip() == b'"mine"']
    for junk in (b"\xff\xfe{not json", b'{"title": 3}', b"[1, 2]"):
        stored.write_bytes(junk)
        assert run.title() == ""
        assert runs.list_runs()[0]["title"] == "sample-digits-5 · Lite1 · last layer only"


def test_a_damaged_record_is_listed_under_its_folder_name(tiny_digits):
    run = _run(tiny_digits, "20250101-000000-efficientnet_lite0")
    run.config_path.write_text("{broken")
    [row] = runs.list_runs()
    assert row["state"] == "damaged" and row["title"] == run.name
    run.set_title("the broken one")
    assert runs.list_runs()[0]["title"] == "the broken one"


def test_renaming_on_the_runs_page_shows_the_name_in_every_list(workspace_run):
    name = Path(workspace_run).name
    at = studio("runs")
    default = at.dataframe[0].value["Run"][0]
    assert default.endswith("· Lite0 · last layer only") and name not in default
    assert at.text_input(key=f"title_{name}").value == default
    at.text_input(key=f"title_{name}").set_value("Shoes, first try")
    next(b for b in at.button if b.label == "Save name").click()
    at.run()
    assert not at.exception and not at.error
    assert RunDir(workspace_run).title() == "Shoes, first try"
    assert at.dataframe[0].value["Run"].tolist() == ["Shoes, first try"]
    assert at.selectbox(key="runs_pick").format_func(workspace_run) == "Shoes, first try"
    goto(at, "model")  # "start from an earlier run" lists it by its name too
    picker = at.selectbox(key="pick_init_from")
    assert picker.format_func(workspace_run).startswith("Shoes, first try (")
    assert name not in picker.format_func(workspace_run)
    picker.set_value(workspace_run).run()
    assert "The next run starts from run Shoes, first try." in texts(at.info)
    goto(at, "runs")
    at.text_input(key=f"title_{name}").set_value("")
    next(b for b in at.button if b.label == "Save name").click()
    at.run()
    assert RunDir(workspace_run).title() == "" and at.dataframe[0].value["Run"].tolist() == [default]


@pytest.mark.parametrize("title", ["*bold* [link](http://x) <b>", "# heading"])
def test_a_name_shows_as_written(workspace_run, title):
    RunDir(workspace_run).set_title(title)
    at = studio("runs")
    assert not at.exception and at.dataframe[0].value["Run"].tolist() == [title]
