"""Hostile names: class names and file names that would run as a spreadsheet formula, forge a line of
the command line's output, or look like another class. Each refusal is one plain line and changes
nothing saved; each CSV the studio writes keeps names as text. Tiny images and a random-weight model
built here keep the file fast."""

import csv
import io
import json
import unicodedata
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from test_hostile_input import earlier, fingerprint, make_zip, one_line, png  # noqa: F401 (earlier: a fixture)

from tlcore import cli
from tlcore.config import DEFAULT_MODEL
from tlcore.data import portable, store
from tlcore.data.dataset import load_source
from tlcore.data.names import CASE_TWINS, CONTROL_IN_NAME, printable
from tlcore.errors import TLError
from tlcore.models.bundle import save_bundle
from tlcore.models.catalog import get_spec
from tlcore.models.net import Net, build_backbone
from tlcore.rundir import DAMAGED_FILE, RUN_FILE, RunDir
from tlcore.training.report import predictions_csv
from tlcore.use.predict import results_csv
from tlcore.workspace import datasets_dir, workspace_dir
from wording import line

FORMULA = "@SUM(1+1)*cmd|' -C calc'!A0"
FILE = "=cmd.png"
FORGED = "ok\nother.jpg: cat 0.999"
NFC, NFD = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- CSV outputs: a cell never starts a formula --------------------------------------------

def test_rule_quotes_formulas_and_keeps_numbers_and_gives_the_text_back():
    for text in (FORMULA, FILE, "+1+1", "-2+3", "\tx", "\rx", "'=already quoted"):
        assert portable.spreadsheet_safe(text) == "'" + text
        assert portable.spreadsheet_text(portable.spreadsheet_safe(text)) == text
    for kept in ("cat", "0.250000", "-0.5", "+3", "1e-05", "", "p_=x", 0.5, -1.0):
        assert portable.spreadsheet_safe(kept) == kept


@pytest.fixture
def run_with_formula_class(tmp_path):
    """A run folder whose bundle (random weights, 32 pixels) knows the classes FORMULA and 'cat'."""
    spec = get_spec(DEFAULT_MODEL)
    torch.manual_seed(0)
    backbone, _ = build_backbone(spec, "none", 32)
    save_bundle(tmp_path / "run" / "bundle", Net(backbone, spec.feature_dim, 2), [FORMULA, "cat"], DEFAULT_MODEL, 32)
    return tmp_path / "run"


def test_cli_predict_csv_keeps_names_as_text(run_with_formula_class, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path(FILE).write_bytes(png(1))
    assert cli.main(["predict", "--run", str(run_with_formula_class), FILE, "--csv", "out.csv"]) == 0
    header, row = cells(Path("out.csv").read_text())
    assert header == ["file", "predicted", "confidence", "error", f"p_{FORMULA}", "p_cat"]
    assert row[0] == "'" + FILE and row[1] in ("'" + FORMULA, "cat") and row[3] == ""
    probabilities = [float(v) for v in row[4:]]
    assert sum(probabilities) == pytest.approx(1, abs=1e-5) and float(row[2]) == max(probabilities)
    assert capsys.readouterr().out.startswith(f"{FILE}: ")  # the terminal shows the name as it is


def test_use_page_csv_keeps_names_as_text():
    rows = [{"file": FILE, "top": [(FORMULA, 0.9), ("cat", 0.1)], "probabilities": {FORMULA: 0.9, "cat": 0.1}},
            {"file": "-broken.png", "error": "is not an image file"}]
    header, good, bad = cells(results_csv(rows, not_sure_below=0.95))
    assert header == ["file", "predicted", "confidence", "not_sure", "error", f"p_{FORMULA}", "p_cat"]
    assert good == ["'" + FILE, "'" + FORMULA, "0.900000", "True", "", "0.900000", "0.100000"]
    assert bad == ["'-broken.png", "", "", "", "is not an image file", "", ""]


def test_run_predictions_csv_keeps_names_as_text_and_reads_back(tmp_path):
    data = predictions_csv([FILE, "/photos/b.png"], torch.tensor([0, 1]),
                           torch.tensor([[0.25, 0.75], [0.5, 0.5]]), [FORMULA, "-cat"])
    header, first, second = cells(data.decode())
    assert header == ["file", "true", "predicted", "confidence", f"p_{FORMULA}", "p_-cat"]
    assert first == ["'" + FILE, "'" + FORMULA, "'-cat", "0.750000", "0.250000", "0.750000"]
    assert second[:3] == ["/photos/b.png", "'-cat", "'" + FORMULA]
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_predictions("val", data)
    back = run.predictions("val")  # what the Evaluate page shows: the names as they were given
    assert [(r["file"], r["true"], r["predicted"], r["confidence"]) for r in back] == [
        (FILE, FORMULA, "-cat", 0.75), ("/photos/b.png", "-cat", FORMULA, 0.5)]
    run.predictions_path("val").write_text("file,true,predicted,confidence\na.png,x,y,not a number\n")
    with pytest.raises(TLError, match=line(DAMAGED_FILE, where=RUN_FILE.format(file="predictions.csv", run="run"))):
        run.predictions("val")


def tiny_onnx(path: Path, classes: list[str], size: int = 8) -> Path:
    """A real ONNX model: each image's mean colour, softmaxed; metadata as the studio's exports carry it."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["colour"], axes=[2, 3], keepdims=0),
         helper.make_node("Softmax", ["colour"], ["probabilities"], axis=1)], "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    helper.set_model_props(model, {"classes": json.dumps(classes), "image_size": str(size),
                                   "mean": "[0, 0, 0]", "std": "[0.1, 0.1, 0.1]"})
    onnx.save(model, path)
    return path


def test_exported_snippet_csv_keeps_names_as_text(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = tiny_onnx(tmp_path / "model.onnx", [FORMULA, "g", "b"])
    Path(FILE).write_bytes(png(250))  # red 250, green 40, blue 90: the first class wins
    assert portable.main([str(model), FILE]) == 0
    (row,) = cells(capsys.readouterr().out)
    assert row[:2] == ["'" + FILE, "'" + FORMULA] and float(row[2]) > 0.9


# --- control characters: refused in class names, escaped where printed ----------------------

FORGED_LINE = CONTROL_IN_NAME.format(what="class folder", name=r"ok\nother.jpg: cat 0.999", kind="a line break",
                                     char=r"\n")


def test_zip_with_a_forged_line_class_is_refused(earlier):  # noqa: F811
    _, before = earlier
    with pytest.raises(TLError) as err:
        store.import_zip(make_zip({f"{FORGED}/1.png": png(1), f"{FORGED}/2.png": png(2), "b/1.png": png(3),
                                   "b/2.png": png(4)}), "forged.zip")
    assert str(err.value) == FORGED_LINE
    one_line(str(err.value))
    assert fingerprint(workspace_dir()) == before and len(list(datasets_dir().iterdir())) == 1


def test_folder_with_a_forged_line_class_is_refused(tmp_path, capsys):
    for name in (FORGED, "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(2):
            (tmp_path / "data" / name / f"{i}.png").write_bytes(png(i))
    before = fingerprint(tmp_path / "data")
    with pytest.raises(TLError) as err:
        load_source(tmp_path / "data", datasets_dir())
    assert str(err.value) == FORGED_LINE
    assert fingerprint(tmp_path / "data") == before


@pytest.mark.parametrize("name,kind,char", [
    ("a\tb", "a tab", r"\t"), ("a\rb", "a line break", r"\r"), ("a\x1b[31mb", "a control character", r"\x1b"),
    ("a\x7fb", "a control character", r"\x7f"), ("a\x85b", "a line break", r"\x85"),
    ("a\u2028b", "a line break", r"\u2028"), ("a\x00b", "a control character", r"\x00")])
def test_typed_class_name_with_a_control_character_is_refused(name, kind, char, earlier):  # noqa: F811
    with pytest.raises(TLError) as err:
        store.import_class_images("mine", {name: [("1.png", png(1)), ("2.png", png(2))],
                                           "b": [("1.png", png(3)), ("2.png", png(4))]})
    assert str(err.value) == CONTROL_IN_NAME.format(what="class name", name=printable(name), kind=kind, char=char)
    one_line(str(err.value))
    assert fingerprint(workspace_dir()) == earlier[1]


def test_data_page_says_at_once_that_a_typed_name_holds_a_tab():
    from app_fixtures import studio

    at = studio()
    at.text_input(key="opt_class_names").set_value("bolt\tnut, washer").run()
    assert not at.exception
    assert [e.value for e in at.error] == [CONTROL_IN_NAME.format(what="class name", name=r"bolt\\tnut", kind="a tab",
                                                                  char=r"\\t")]


def test_cli_lines_cannot_be_forged_by_file_or_class_names(tmp_path, monkeypatch, capsys):
    spec = get_spec(DEFAULT_MODEL)
    backbone, _ = build_backbone(spec, "none", 32)
    run = tmp_path / "old-run"  # a bundle from before names were checked, with a line break in a class
    save_bundle(run / "bundle", Net(backbone, spec.feature_dim, 2), [FORGED, "cat"], DEFAULT_MODEL, 32)
    monkeypatch.chdir(tmp_path)
    files = ["a\nb.png: cat 0.999", "plain.png", "\x1b[2Jgone.png"]
    for name in files:
        Path(name).write_bytes(png(7))
    assert cli.main(["predict", "--run", str(run), *files, "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("\x1b" not in line for line in lines)
    assert lines[0].startswith(r"a\nb.png: cat 0.999: ") and r"ok\nother.jpg: cat 0.999 0." in lines[0]
    assert lines[2].startswith(r"\x1b[2Jgone.png: ")


def test_error_line_escapes_what_it_quotes(capsys):
    from tlcore.jobs.outcome import guarded

    def fail():
        raise TLError("\x1b]0;owned\x07 is not a folder.")

    assert guarded("train", fail) == 2
    assert capsys.readouterr().err == "error: \\x1b]0;owned\\x07 is not a folder.\n"


# --- look-alikes: NFC, and names equal once case is folded -----------------------------------

def test_cafe_written_two_ways_in_a_zip_is_one_class():
    ds = store.import_zip(make_zip({f"{NFC}/1.png": png(1), f"{NFD}/2.png": png(2), "b/1.png": png(3),
                                    "b/2.png": png(4)}), "drinks.zip")
    assert ds.classes == ["b", NFC] and sorted(i.label for i in ds.items) == ["b", "b", NFC, NFC]


def test_cafe_in_train_and_val_written_two_ways_is_one_class():
    ds = store.import_zip(make_zip({f"train/{NFD}/1.png": png(1), f"val/{NFC}/2.png": png(2),
                                    "train/b/1.png": png(3), "val/b/2.png": png(4)}), "split.zip")
    assert ds.classes == ["b", NFC] and {(i.label, i.split) for i in ds.items if i.label != "b"} == {
        (NFC, "train"), (NFC, "val")}


def test_cafe_typed_two_ways_is_one_class_and_keeps_every_image():
    assert store.class_names(f"{NFC}, {NFD} ,Cat,  ,cat") == [NFC, "Cat", "cat"]
    ds = store.import_class_images("mine", {NFC: [("1.png", png(1))], NFD: [("1.png", png(2))],
                                            "b": [("1.png", png(3)), ("2.png", png(4))]})
    assert ds.classes == ["b", NFC] and len([i for i in ds.items if i.label == NFC]) == 2


@pytest.mark.parametrize("a,b", [("Cat", "cat"), ("STRASSE", "straße"), (NFD.upper(), NFC)])
def test_class_folders_differing_only_in_case_are_refused(a, b, earlier):  # noqa: F811
    _, before = earlier
    with pytest.raises(TLError) as err:
        store.import_zip(make_zip({f"{a}/1.png": png(1), f"{a}/2.png": png(2), f"{b}/1.png": png(3),
                                   f"{b}/2.png": png(4)}), "twins.zip")
    first, second = sorted(unicodedata.normalize("NFC", n) for n in (a, b))
    assert str(err.value) == CASE_TWINS.format(what="class folders", first=first, second=second)
    one_line(str(err.value))
    assert fingerprint(workspace_dir()) == before and len(list(datasets_dir().iterdir())) == 1

