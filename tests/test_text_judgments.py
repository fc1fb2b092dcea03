"""Label issues and calibration for text runs, measured on texts (bench/judge_labels.py,
bench/judge_calibration.py): the Evaluate page shows the text benchmark's numbers, or one line saying
why the verdict is withheld; and a text run saved by an earlier version gets one plain line."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import studio, texts
from safetensors.torch import load_file, save_file
from test_app_label_issues import _captions, _with
from test_hostile_input import fingerprint
from text_fixtures import train

from pages import text_words, ui
from tlcore.cli import main
from tlcore.errors import TLError
from tlcore.models.bundle import EARLIER_VERSION
from tlcore.rundir import RunDir
from tlcore.studio import load_text_predictor
from tlcore.training import label_issues
from tlcore.training.label_issues import MEASURED_ON, NOT_RELIABLE, label_check
from tlcore.workspace import runs_dir

ROW = {"given": "sport", "suggested": "weather", "given_probability": 0.02, "suggested_probability": 0.91}


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    """A default text run (frozen MiniLM, cross-validated) on the three topics, through the command line."""
    return train(tmp_path_factory, "judged-text")


@pytest.fixture
def workspace_text_run(text_run) -> str:
    target = runs_dir() / text_run.name
    shutil.copytree(text_run, target)
    return str(target)


def _logits(n: int = 60, classes: int = 3, wrong: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and held-out logits of a model right on all but ``wrong`` of them (each seen as the next class)."""
    y = np.arange(n) % classes
    z = np.full((n, classes), -2.0)
    z[np.arange(n), y] = 2.0
    z[:wrong] = np.roll(z[:wrong], 1, axis=1)
    return y, z


def test_the_label_check_of_texts_is_withheld_as_its_benchmark_found_it_unreliable():
    y, z = _logits(wrong=6)
    rows, check = label_check(y, z, "text")
    assert rows == [] and not check["shown"] and check["precision"] is None
    assert check["reason"] == NOT_RELIABLE["text"] and check["measured_on"] == MEASURED_ON["text"]
    rows, check = label_check(y, z)  # the same held-out answers from an image run: shown, measured on images
    assert rows and check["shown"] and check["measured_on"] == MEASURED_ON["image"]


def test_the_label_check_of_texts_reads_the_text_benchmarks_table(monkeypatch):
    monkeypatch.setitem(label_issues.PRECISIONS, "text", ((0.55, 0.7),))
    rows, check = label_check(*_logits(wrong=6), "text")
    assert rows and check["shown"] and check["precision"] == 0.7 and check["reason"] == ""


def test_a_text_run_records_its_label_check_against_the_text_benchmark(text_run):
    check = RunDir(text_run).metrics().label_check
    assert check["measured_on"] == MEASURED_ON["text"] and check["reason"] == NOT_RELIABLE["text"]


def test_evaluate_shows_the_list_of_texts_with_the_text_benchmarks_numbers(workspace_text_run):
    file = RunDir(workspace_text_run).predictions("cv")[0]["file"]
    check = {"shown": True, "accuracy": 0.9, "above_chance": 0.85, "precision": 0.7, "found": 1, "reason": "",
             "measured_on": MEASURED_ON["text"]}
    _with(workspace_text_run, label_issues=[{**ROW, "file": file}], label_check=check)
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    assert "Texts probably labelled wrong" in texts(at.subheader)
    sure = (f"About 7 in 10 of these are usually real labelling mistakes at this "
            f"accuracy (90% in cross-validation), {MEASURED_ON['text']}.")
    assert sure in _captions(at)
    assert "not yet measured" not in _captions(at) and "images" not in _captions(at)
    assert "filed as **sport** (2%), looks like **weather** (91%)" in _captions(at)


def test_evaluate_withholds_the_list_of_texts_in_one_line_where_it_is_unreliable(workspace_text_run):
    check = {"shown": False, "accuracy": 0.9, "above_chance": 0.85, "precision": None, "found": 2,
             "reason": NOT_RELIABLE["text"], "measured_on": MEASURED_ON["text"]}
    _with(workspace_text_run, label_issues=[], label_check=check)
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    assert NOT_RELIABLE["text"] in _captions(at).splitlines()
    assert "filed as" not in _captions(at)


def test_a_text_runs_check_made_before_it_was_measured_on_texts_is_not_shown(workspace_text_run):
    check = {"shown": True, "accuracy": 0.9, "above_chance": 0.85, "precision": 0.91, "found": 1, "reason": ""}
    _with(workspace_text_run, label_issues=[{**ROW, "file": "x"}], label_check=check)
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    assert ("Not checked: this run was trained before the check of labels was measured for reliability on texts. "
            "Train again to see it.") in _captions(at).splitlines()
    assert "filed as" not in _captions(at)


def test_evaluate_says_how_the_confidence_adjustment_measured_on_texts(workspace_text_run):
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    assert ("Measured on software descriptions with known answers (10 sets), this way of adjusting took the "
            "calibration error on unseen texts from 39% to 4.4% on average, and made it no worse in 10 of 10."
            ) in _captions(at)


@pytest.fixture
def earlier_text_run(workspace_text_run) -> Path:
    """The run as an earlier version saved it: its head reads 384-wide features (one view, not three)."""
    weights = RunDir(workspace_text_run).bundle_path / "model.safetensors"
    state = load_file(str(weights))
    heads = [k for k in state if k.startswith("head.") and state[k].ndim == 2]
    assert heads and all(state[k].shape[1] == 3 * 384 for k in heads)
    save_file({k: (v[:, :384].contiguous() if k in heads else v) for k, v in state.items()}, str(weights))
    return Path(workspace_text_run)


def test_a_text_run_from_an_earlier_version_gets_one_line_everywhere(earlier_text_run, capsys):
    before = fingerprint(earlier_text_run)
    with pytest.raises(TLError) as e:
        load_text_predictor(earlier_text_run)
    assert str(e.value) == EARLIER_VERSION
    assert main(["predict", "--run", str(earlier_text_run), "--text", "Rain all day"]) != 0
    err = capsys.readouterr().err.strip()
    assert EARLIER_VERSION in err and len(err.splitlines()) == 1 and "Traceback" not in err
    use = studio("use", **{ui.RUN: str(earlier_text_run)})
    assert not use.exception and [m.value for m in use.error] == [EARLIER_VERSION]
    assert not use.text_area  # nothing to type into a model that cannot answer
    evaluate = studio("evaluate", **{ui.RUN: str(earlier_text_run)})
    assert not evaluate.exception and not evaluate.error  # its scores and lists are read from the run, as saved
    next(b for b in evaluate.button if b.label == text_words.BUTTON).click()
    evaluate.run()  # which words moved the answer needs the model itself
    assert not evaluate.exception and [m.value for m in evaluate.error] == [EARLIER_VERSION]
    assert fingerprint(earlier_text_run) == before  # nothing in the run was rewritten or deleted
