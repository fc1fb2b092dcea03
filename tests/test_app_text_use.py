"""A trained text model in the studio: Evaluate shows its mistakes as the texts themselves, and Use
classifies a typed text and a table of texts and offers its exports."""

import csv
import io
import re
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import studio, texts
from text_fixtures import MISFILED, TOPICS, everything_shown, table_bytes, text_run, workspace_text_run  # noqa: F401
from wording import pattern

from pages import text_words, ui
from tlcore.config import TrainConfig
from tlcore.jobs.train import create_run, execute
from tlcore.rundir import RunDir
from tlcore.studio import (NotSureRule, import_texts, load_text_predictor, rule_sentence, run_texts, text_folder,
                           text_onnx_zip, text_results_csv, type_texts)
from tlcore.workspace import runs_dir


def test_evaluate_shows_mistakes_as_escaped_texts_and_no_grad_cam(workspace_text_run):
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    shown = texts(at.markdown)
    assert ui.md_safe(MISFILED) in shown  # the text itself, its markup shown as written
    assert "is **sport**" in texts(at.caption)
    assert "texts (cross-validation (all labelled texts)) were put in the wrong class" in texts(at.caption)
    assert "Texts probably labelled wrong" in texts(at.subheader)
    assert "Where the model looked" not in texts(at.subheader)
    assert not [b for b in at.button if b.label == "Show where the model looked"]


def _highlighted(at) -> str:
    """The Markdown of the text drawn with its words highlighted."""
    [drawn] = [m.value for m in at.markdown if "<span style=" in m.value]
    return drawn


def test_evaluate_shows_which_words_of_a_picked_text_moved_the_answer_with_its_markup_escaped(workspace_text_run):
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    options = at.selectbox(key="words_text").options
    picked = next(o for o in options if "all night" in o)
    assert picked.startswith("is sport, guessed ")  # the text on one line, after what the model made of it
    wrong = [o for o in options if len(set(re.match(r"is (\w+), guessed (\w+):", o).groups())) == 2]
    assert options[:len(wrong)] == wrong  # the mistakes first
    at.selectbox(key="words_text").select_index(options.index(picked))
    next(b for b in at.button if b.label == text_words.BUTTON).click()
    at.run()
    assert not at.exception and not at.error
    drawn = _highlighted(at)
    assert "<b>" not in drawn and "**" not in drawn  # the text's own markup is escaped, only the spans are HTML
    assert "\\<" in drawn and "\\*\\*" in drawn
    assert drawn.count("<span ") == len(["b", "Heavy", "b", "rain", "and", "thunder", "all", "night"])
    assert re.search(r'rgba\((0, 158, 115|213, 94, 0), [0-9.]+\)[^>]*>Heavy</span>', drawn)
    assert re.search(pattern(text_words.ANSWER) + " " + pattern(text_words.RAISED), texts(at.caption))


@pytest.mark.parametrize("page", ["evaluate", "use"])
def test_a_text_runs_pages_never_say_image(workspace_text_run, page):
    RunDir(workspace_text_run).set_not_sure_rule(NotSureRule(0.9, 0.9))  # its sentences on the Use page too
    rows = [[t, label] for label, items in TOPICS.items() for t in items] + [[MISFILED, "sport"]]
    folder = text_folder(import_texts(table_bytes(rows), "topics.csv"))  # the run's texts, in this workspace
    at = studio(page, **{ui.RUN: workspace_text_run, ui.DATASET: folder})
    assert not at.exception and not at.error
    shown = everything_shown(at.main) + everything_shown(at.sidebar)
    assert "25 texts" in shown  # the score's sentence, in the page and the sidebar
    assert not re.findall(r"[^\n]{0,60}\bimages?\b[^\n]{0,60}", shown, re.IGNORECASE)


def test_use_classifies_a_typed_text_and_a_table_of_texts(workspace_text_run):
    at = studio("use", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    assert "Classify images" not in [t.label for t in at.tabs] and "Camera" not in [t.label for t in at.tabs]
    assert not at.toggle and not at.camera_input  # no camera for a text model
    at.text_area(key=f"typed_{Path(workspace_text_run).name}").set_value("Heavy snow and icy wind tonight").run()
    assert not at.exception and not at.error
    assert any(m.startswith("### weather (") for m in texts(at.markdown).splitlines())
    at.text_area(key=f"typed_{Path(workspace_text_run).name}").set_value("<b>Snow</b> and **icy** wind").run()
    next(b for b in at.button if b.label == text_words.BUTTON).click()
    at.run()
    assert not at.exception and not at.error
    drawn = _highlighted(at)
    assert "<b>" not in drawn and "**" not in drawn and ">Snow</span>" in drawn and ">icy</span>" in drawn
    upload = next(u for u in at.file_uploader if u.label.startswith("Or a table of texts"))
    rows = [["=1+2 a goal in the final match", "?"], ["Bake the pie slowly", "?"]]
    upload.set_value(("new.csv", table_bytes(rows), "text/csv")).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["text"].tolist() == ["=1+2 a goal in the final match", "Bake the pie slowly"]
    assert table["predicted"].tolist()[1] == "food"
    assert "Download all results as CSV" in [b.label for b in at.get("download_button")]


def test_typed_texts_and_table_rows_follow_the_not_sure_rule_as_images_do(workspace_text_run):
    run = RunDir(workspace_text_run)
    rows = [["=1+2 a goal in the final match", "?"], ["Bake the pie slowly", "?"]]
    sure = load_text_predictor(run.path).predict_texts([r[0] for r in rows], top=1)
    p = sorted(r["top"][0][1] for r in sure)
    rule = NotSureRule(sum(p) / 2)  # between the two answers: one is marked "not sure", the other is not
    run.set_not_sure_rule(rule)
    at = studio("use", **{ui.RUN: workspace_text_run})
    upload = next(u for u in at.file_uploader if u.label.startswith("Or a table of texts"))
    upload.set_value(("new.csv", table_bytes(rows), "text/csv")).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["not_sure"].tolist() == [r["top"][0][1] < rule.below for r in sure] and table["not_sure"].sum() == 1
    csv_rows = list(csv.DictReader(io.StringIO(text_results_csv(sure, rule.below))))
    assert [r["not_sure"] for r in csv_rows] == [str(r["top"][0][1] < rule.below) for r in sure]
    unsure = next(r for r, s in zip(rows, sure) if s["top"][0][1] < rule.below)[0]
    at.text_area(key=f"typed_{run.name}").set_value(unsure).run()
    assert any(m.startswith("### Not sure — maybe ") for m in texts(at.markdown).splitlines())
    assert rule_sentence(rule) in texts(at.caption)
    at.text_area(key=f"typed_{run.name}").set_value(next(r[0] for r in rows if r[0] != unsure)).run()
    assert not any(m.startswith("### Not sure") for m in texts(at.markdown).splitlines())


@pytest.mark.filterwarnings("ignore:Constant folding")
def test_use_makes_the_onnx_file_with_its_tokenizer_and_offers_the_card(workspace_text_run):
    at = studio("use", **{ui.RUN: workspace_text_run})
    labels = [b.label for b in at.get("download_button")]
    assert "Download the model bundle (.zip)" in labels and "Download the model card (.md)" in labels
    assert "Make the PyTorch program (.pt2) file" not in [b.label for b in at.button]
    assert "Make the web page" not in [b.label for b in at.button]
    next(b for b in at.button if b.label == "Make the ONNX file").click()
    at.run()
    assert not at.exception and not at.error
    assert "Download model.onnx with its tokenizer.json (.zip)" in [b.label for b in at.get("download_button")]
    run = RunDir(workspace_text_run)
    with zipfile.ZipFile(io.BytesIO(text_onnx_zip(run))) as z:
        assert sorted(z.namelist()) == [f"{run.name}/model.onnx", f"{run.name}/tokenizer.json"]
    assert "onnxruntime, tokenizers and numpy" in texts(at.markdown)


def test_a_text_dataset_continues_only_from_text_runs(workspace_text_run):
    image_run = RunDir(runs_dir() / "20250102-000000-efficientnet_lite0")
    shutil.copytree(workspace_text_run, image_run.path)
    record = image_run.record()
    image_run.write_record(replace(record, config=record.config.with_(model="efficientnet_lite0")))
    folder = text_folder(import_texts(table_bytes(), "again.csv"))
    at = studio("model", **{ui.DATASET: folder})
    assert not at.exception and not at.error
    offered = at.selectbox(key="pick_init_from").options[1:]
    assert len(offered) == 1 and "MiniLM" in offered[0], offered


def test_typed_texts_stored_in_the_workspace_train_each_as_its_own_example():
    data = type_texts("typed", {label: "\n".join(items) for label, items in TOPICS.items()})
    run = create_run(TrainConfig(data=text_folder(data), model="all_minilm_l6_v2", trainable_stages=0, epochs=1,
                                 device="cpu"), runs_dir() / "20250103-000000-typed")
    assert execute(run.path) == "finished"
    assert len(run_texts(run.path)) == 24  # typed lines share their origin, not their name in the run
