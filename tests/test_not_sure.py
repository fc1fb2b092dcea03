"""The "not sure" rule in the user's terms: off by default; "answers should be right at least N% of
the time" turned into a threshold from the held-out table, kept in the run folder, and carried with
the same words by the Use page, the ONNX file, the model card and the web page."""

import html
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import onnx
import pytest
from app_fixtures import studio, texts

from pages import ui
from tlcore.record import NotSureRule, RecordError
from tlcore.rundir import RunDir
from tlcore.use.card import model_card
from tlcore.use.export import export_bundle
from tlcore.use.notsure import (ANSWERS_UNDER, ASKED, COVERAGE, DIVIDED_OLD, NO_HELD_OUT, OFF_REACHED, OFF_WORDS, OWN,
                                 TEST_BETTER, TEST_NO_BETTER, UNREACHABLE, calibration_sentence, coverage_of,
                                 coverage_sentence, rule_for, rule_of, rule_sentence, rule_words)
from tlcore.use.webdemo import web_demo_zip
from wording import line

# 30 answers: 10 at >= 0.95 all right, 20 at >= 0.8 with 18 right, all 30 with 20 right.
TABLE = {"split": "test", "images": 30, "rows": [[0.0, 30, 20], [0.8, 20, 18], [0.95, 10, 10]]}


def test_a_target_becomes_the_lowest_threshold_that_reaches_it():
    assert rule_for(0.9, TABLE) == NotSureRule(0.8, 0.9)
    assert rule_for(0.6, TABLE) == NotSureRule(0.0, 0.6)  # every answer already right often enough
    assert rule_for(None, TABLE) == NotSureRule(0.0) and not rule_for(None, TABLE).on
    assert rule_for(0.85, None) == NotSureRule(0.85, 0.85)  # no table: the target, right when calibrated


def test_the_coverage_sentence_says_what_the_rule_keeps_and_when_nothing_reaches_it():
    assert coverage_sentence(0.9, TABLE) == COVERAGE.format(target=0.9, answered=20, n=30, where="test images",
                                                            right=0.9)
    unreachable = coverage_sentence(1.0, {**TABLE, "rows": TABLE["rows"][:2]})
    assert unreachable == UNREACHABLE.format(target=1.0, n=30, where="test images", best=0.9, answered=20, sure=0.8)
    assert rule_for(1.0, {**TABLE, "rows": TABLE["rows"][:2]}) == NotSureRule(1.0, 1.0)  # none can be vouched for
    assert rule_for(0.9, {**TABLE, "rows": TABLE["rows"][:1]}) == NotSureRule(1.0, 0.9)  # not even by keeping all
    assert coverage_sentence(0.9, None) == NO_HELD_OUT


def test_rule_sentences():
    assert rule_sentence(NotSureRule(0.0)).startswith(OFF_WORDS)
    assert rule_sentence(NotSureRule(0.8, 0.9)) == ANSWERS_UNDER.format(below=0.8, asked=ASKED.format(target=0.9))
    assert rule_sentence(NotSureRule(0.89)) == ANSWERS_UNDER.format(below=0.89, asked="")
    assert rule_sentence(NotSureRule(0.0, 0.6)) == OFF_REACHED.format(target=0.6)
    with pytest.raises(RecordError):
        NotSureRule(1.5)


def test_the_run_folder_keeps_the_rule_and_old_bundles_keep_theirs(trained_run, tmp_path):
    run = RunDir(shutil.copytree(trained_run, tmp_path / "run"))
    assert rule_of(run) == NotSureRule(0.0)  # trained now: off
    coverage = coverage_of(run)
    assert coverage["split"] == "test" and coverage["images"] == 40 and coverage["rows"][0][:2] == [0.0, 40]
    run.set_not_sure_rule(NotSureRule(0.7, 0.9))
    assert RunDir(run.path).not_sure_rule() == rule_of(run) == NotSureRule(0.7, 0.9)
    run.not_sure_path.write_text("{broken")
    assert rule_of(run) == NotSureRule(0.0)  # a damaged choice falls back to the model's own rule
    run.set_not_sure_rule(None)
    assert not run.not_sure_path.exists()
    meta_path = run.bundle_path / "model.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "not_sure_below": 0.89}))
    assert rule_of(run) == NotSureRule(0.89)  # a bundle from an older version keeps its threshold
    del_meta = {k: v for k, v in json.loads(meta_path.read_text()).items() if k != "not_sure_below"}
    meta_path.write_text(json.dumps(del_meta))
    assert rule_of(run) == NotSureRule(0.0)


def test_use_page_answers_the_top_class_until_a_rule_is_chosen(workspace_run, fashion_small):
    files = sorted((fashion_small / "test" / "trouser").iterdir())[:3]
    at = studio("use", **{ui.RUN: workspace_run})
    control = next(s for s in at.select_slider if s.label == "Answers should be right at least … of the time")
    assert control.value == 0  # off
    assert OFF_WORDS in texts(at.caption)
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "image/png") for p in files]).run()
    assert "not_sure" not in at.dataframe[0].value.columns
    assert "Not sure — maybe" not in texts(at.markdown) and "### trouser (" in texts(at.markdown)
    run = RunDir(workspace_run)
    coverage = coverage_of(run)  # the tiny run: 39 of its 40 test images right, the wrong one the least sure
    for target in (0.9, 0.99):
        at.select_slider[0].set_value(round(target * 100)).run()
        rule = run.not_sure_rule()
        assert rule.target == target and rule == rule_for(target, coverage)
        assert coverage_sentence(target, coverage) in texts(at.caption) and rule_sentence(rule) in texts(at.caption)
    assert re.match(line(COVERAGE, target=0.99, n=40, where="test images"), coverage_sentence(0.99, coverage))
    table = at.dataframe[0].value
    assert rule.below > 0 and table["not_sure"].tolist() == (table["confidence"] < rule.below).tolist()
    at.select_slider[0].set_value(0).run()
    assert run.not_sure_rule() == NotSureRule(0.0) and "not_sure" not in at.dataframe[0].value.columns
    assert not at.exception and not at.error


def test_use_page_keeps_an_older_models_threshold_until_the_user_chooses(workspace_run):
    meta_path = Path(workspace_run) / "bundle" / "model.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "not_sure_below": 0.89}))
    at = studio("use", **{ui.RUN: workspace_run})
    assert at.select_slider[0].value == -1  # "as the model came"
    assert ANSWERS_UNDER.format(below=0.89, asked="") in texts(at.caption)
    at.select_slider[0].set_value(0).run()
    assert RunDir(workspace_run).not_sure_rule() == NotSureRule(0.0)
    assert texts(at.caption).count(OFF_WORDS) == 1 and not at.exception


def _onnx_not_sure(path: Path) -> float:
    return float({p.key: p.value for p in onnx.load(str(path)).metadata_props}["not_sure_below"])


@pytest.mark.slow
def test_card_web_page_and_onnx_carry_the_same_rule(trained_run, tmp_path):
    run = RunDir(shutil.copytree(trained_run, tmp_path / "run"))
    card = model_card(run)
    assert OFF_WORDS in card and '"not sure" below' not in card
    with zipfile.ZipFile(io.BytesIO(web_demo_zip(run.path))) as zf:
        assert OFF_WORDS in html.unescape(zf.read("index.html").decode())
        assert '"not_sure_below": 0.0' in zf.read("model.js").decode()
    run.set_not_sure_rule(rule_for(0.99, coverage_of(run)))  # above the tiny run's 39 of 40: a threshold
    rule, words = rule_of(run), rule_words(run)
    assert rule.on and words.startswith(rule_sentence(rule)) and coverage_sentence(0.99, coverage_of(run)) in words
    assert words in model_card(run)
    with zipfile.ZipFile(io.BytesIO(web_demo_zip(run.path))) as zf:
        page = html.unescape(zf.read("index.html").decode())
        model_js = zf.read("model.js").decode().splitlines()[0]
        assert words in zf.read("README.txt").decode()
    assert words in page and ASKED.format(target=0.99) in page
    assert json.loads(model_js.removeprefix("window.tlModel = ").removesuffix(";"))["not_sure_below"] == rule.below
    export_bundle(run.bundle_path, "onnx", tmp_path / "model.onnx", rule.below)
    assert _onnx_not_sure(tmp_path / "model.onnx") == rule.below


def test_the_calibration_sentence_never_sells_a_worse_confidence_as_better():
    kept = {"kept": True, "reason": "It helped.", "temperature": 1.8, "images": 80, "ece_before": 0.129,
            "ece_after": 0.1, "log_loss_before": 0.9, "log_loss_after": 0.8}
    worse = calibration_sentence({**kept, "test_ece_before": 0.101, "test_ece_after": 0.149})
    assert worse.endswith(TEST_NO_BETTER.format(after=0.149, before=0.101)) and ", better than" not in worse
    better = calibration_sentence({**kept, "test_ece_before": 0.149, "test_ece_after": 0.101})
    assert better.endswith(TEST_BETTER.format(after=0.101, before=0.149))
    refused = calibration_sentence({**kept, "kept": False, "reason": "Too few.", "temperature": 1.0,
                                    "test_ece_before": 0.12, "test_ece_after": 0.12})
    assert refused.startswith(OWN.format(reason="Too few."))
    assert refused.endswith("it is 12.0%.") and "divided" not in refused
    old = calibration_sentence({"temperature": 1.5, "ece_before": 0.1, "ece_after": 0.05, "images": 60,
                                "threshold": 0.8, "bins_before": [], "bins_after": []})
    assert old == DIVIDED_OLD.format(temperature=1.5, images=60)  # an in-sample number is not shown
