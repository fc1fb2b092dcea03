"""Evaluate's "Images probably labelled wrong": on the default view, with how sure the list is, or one
line saying why it is withheld."""

from dataclasses import replace

from app_fixtures import studio, texts

from pages import ui
from tlcore.rundir import RunDir

SHOWN = {"shown": True, "accuracy": 0.81, "above_chance": 0.75, "precision": 0.84, "found": 1, "reason": ""}
ROW = {"given": "bag", "suggested": "sandal", "given_probability": 0.01, "suggested_probability": 0.93}


def _with(workspace_run: str, **changes) -> None:
    run = RunDir(workspace_run)
    run.write_metrics(replace(run.metrics(), **changes))


def _captions(at) -> str:
    return texts(at.caption)


def test_the_list_shows_on_the_default_view_with_how_sure_it_is(workspace_run):
    run = RunDir(workspace_run)
    file = run.metrics().label_issues[0]["file"] if run.metrics().label_issues else "bag/0.png"
    _with(workspace_run, label_issues=[{**ROW, "file": file}], label_check=SHOWN)
    at = studio("evaluate", **{ui.RUN: workspace_run})
    assert not at.exception and not at.error
    assert run.metrics().score.split == "test"  # the default view scores the test images, not cross-validation
    assert "Images probably labelled wrong" in texts(at.subheader)
    sure = "About 8 in 10 of these are usually real labelling mistakes at this accuracy (81% in cross-validation)"
    assert sure in _captions(at)
    assert "filed as **bag** (1%), looks like **sandal** (93%)" in _captions(at)


def test_a_withheld_list_says_why_in_one_line(workspace_run):
    reason = ("Not shown: at 40% held-out accuracy the model is too often wrong itself to tell a wrong label "
              "from its own mistake (measured on images with labels moved on purpose).")
    _with(workspace_run, label_issues=[], label_check={**SHOWN, "shown": False, "accuracy": 0.4, "precision": None,
                                                       "found": 3, "reason": reason})
    at = studio("evaluate", **{ui.RUN: workspace_run})
    assert not at.exception and not at.error
    assert reason in _captions(at).splitlines()
    assert "filed as" not in _captions(at)


def test_a_run_from_before_the_check_shows_no_list(workspace_run):
    _with(workspace_run, label_issues=[{**ROW, "file": "bag/0.png"}], label_check=None)
    at = studio("evaluate", **{ui.RUN: workspace_run})
    assert not at.exception and not at.error
    assert any(c.startswith("Not checked:") for c in _captions(at).splitlines())
    assert "filed as" not in _captions(at)
