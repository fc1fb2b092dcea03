"""A text model's exports: the ONNX file takes input_ids and attention_mask (int64, any batch and
length) and gives logits and calibrated probabilities, with tokenizer.json beside it; the model card's
script, run with onnxruntime, tokenizers and numpy alone (in a fresh virtual environment), prints what
`python -m tlcore predict` prints, text for text."""

import csv
import inspect
import io
import os
import re
import subprocess
import venv
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from isolation import BLOCKED, isolated
from text_fixtures import TOPICS, UNSEEN, train

from tlcore.cli import main
from tlcore.data.names import printable
from tlcore.data.portable import spreadsheet_safe
from tlcore.use import export_text_script
from tlcore.use.predict_text import TextPredictor

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = BLOCKED + ("transformers", "PIL")  # the script needs neither
HOSTILE = ["=1+2", "+cmd", "-2+3", "@sum(A1)", "'=quoted", "-0.5", "tab\there", "line\nbreak", "\x1b[31mred",
           "plain", "\u2028sep", "<script>alert(1)</script>", "**bold**"]
TEXTS = UNSEEN + [t for ts in TOPICS.values() for t in ts[:2]] + ["line one\nline two about the rain"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short frozen run (2 epochs), so its probabilities are far from 0 and 1."""
    return train(tmp_path_factory, "export", "--trainable-stages", "0", "--epochs", "2", "--evaluation", "holdout")


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported")
    assert main(["export", "--run", str(run), "--format", "onnx", "--out", str(out / "model.onnx")]) == 0
    assert main(["export", "--run", str(run), "--format", "card", "--out", str(out / "card.md")]) == 0
    return out


def _engine(run: Path, texts: list[str], capsys) -> list[list[str]]:
    """What `python -m tlcore predict` prints for ``texts``, as CSV rows."""
    capsys.readouterr()
    assert main(["predict", "--run", str(run), *sum((["--text", t] for t in texts), [])]) == 0
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))


def test_the_onnx_file_takes_tokens_and_gives_calibrated_probabilities(run, exported):
    session = onnxruntime.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [
        ("input_ids", "tensor(int64)", ["batch", "length"]), ("attention_mask", "tensor(int64)", ["batch", "length"])]
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["kind"] == "text" and meta["max_tokens"] == "256" and meta["classes"] == '["food", "sport", "weather"]'
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(exported / "tokenizer.json"))
    assert (exported / "tokenizer.json").read_bytes() == (run / "bundle" / "tokenizer.json").read_bytes()
    engine = TextPredictor(run / "bundle").probabilities(TEXTS).numpy()
    for batch in (TEXTS, TEXTS[:1], TEXTS[2:5]):  # other batch sizes and lengths than the trace's
        probs = export_text_script.classify(session, tokenizer, batch)
        start = TEXTS.index(batch[0])
        assert np.abs(probs - engine[start:start + len(batch)]).max() < 1e-4
    assert 0.05 < engine.max(1).min() and engine.max(1).max() < 0.9999  # not saturated: the check means something
    assert len(tokenizer.encode("word " * 1000).ids) == 256  # it cuts where the model reads


def test_a_text_model_exports_only_to_onnx(run, tmp_path, capsys):
    assert main(["export", "--run", str(run), "--format", "pt2", "--out", str(tmp_path / "m.pt2")]) != 0
    assert capsys.readouterr().err == ("error: A text model is exported as ONNX (with its tokenizer.json); choose the "
                                       "ONNX format.\n")
    assert not (tmp_path / "m.pt2").exists()


def test_the_script_escapes_and_guards_cells_as_the_studio_does():
    for cell in HOSTILE:
        assert export_text_script.printable(cell) == printable(cell)
        assert export_text_script.spreadsheet_safe(cell) == spreadsheet_safe(cell)
        assert export_text_script.spreadsheet_safe(printable(cell)) == spreadsheet_safe(printable(cell))


def python_blocks(card: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", card, re.S | re.M)


def test_the_card_describes_a_text_model_and_holds_the_script(exported):
    card = (exported / "card.md").read_text()
    assert python_blocks(card) == [inspect.getsource(export_text_script)]
    assert "a text, cut at 256 tokens" in card and "`input_ids`" in card and "tokenizer.json" in card
    assert "ImageNet" not in card and "RGB" not in card and "images" not in card.split("```python")[0]


def _agree(ours: list[list[str]], engine: list[list[str]], texts: list[str] = TEXTS) -> None:
    """The same text, the same top class, and probabilities within 1e-4, line for line."""
    assert len(ours) == len(engine) == len(texts)
    for a, b in zip(ours, engine):
        assert a[0] == b[0] and a[1] == b[1], (a, b)
        assert abs(float(a[2]) - float(b[2])) <= 1e-4


def test_the_card_script_without_the_project_agrees_with_predict(run, exported, tmp_path, capsys):
    (block,) = python_blocks((exported / "card.md").read_text())
    snippet = tmp_path / "snippet.py"
    snippet.write_text(block)
    done = isolated(snippet, exported / "model.onnx", exported / "tokenizer.json", *TEXTS, cwd=tmp_path,
                    blocked=BLOCKED)
    assert done.returncode == 0, done.stderr
    _agree(list(csv.reader(io.StringIO(done.stdout))), _engine(run, TEXTS, capsys))


def _fresh_venv(folder: Path) -> Path:
    """A plain virtual environment (not seeing this one's packages) with onnxruntime, tokenizers and
    numpy, from the machine's local package index when it has one, else from PyPI; its python."""
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    local = Path("/opt/pypi/simple")
    index = ["--index-url", local.as_uri()] if (local / "onnxruntime").is_dir() else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *index, "onnxruntime", "tokenizers", "numpy"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return python


@pytest.mark.slow
def test_the_card_script_in_a_fresh_venv_agrees_with_predict_on_every_text(run, exported, tmp_path, capsys):
    python = _fresh_venv(tmp_path / "venv")
    probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0  # nothing of the studio's environment is there
    (block,) = python_blocks((exported / "card.md").read_text())
    snippet = tmp_path / "snippet.py"
    snippet.write_text(block)
    done = subprocess.run([str(python), str(snippet), str(exported / "model.onnx"), str(exported / "tokenizer.json"),
                           *TEXTS], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _agree(list(csv.reader(io.StringIO(done.stdout))), _engine(run, TEXTS, capsys))
    lines = [t.strip() for t in TEXTS if "\n" not in t]  # one text a line on its input
    piped = subprocess.run([str(python), str(snippet), str(exported / "model.onnx"), str(exported / "tokenizer.json")],
                           input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    _agree(list(csv.reader(io.StringIO(piped.stdout))), _engine(run, lines, capsys), lines)


def test_the_web_page_is_refused_for_a_text_model_in_one_line(run, tmp_path, capsys):
    assert main(["export", "--run", str(run), "--format", "web", "--out", str(tmp_path / "demo.zip")]) != 0
    assert capsys.readouterr().err == ("error: The web page classifies pictures from a camera or image files, so it is "
                                       "made for image models; use a text model through its ONNX file and the model "
                                       "card's script.\n")
    assert not (tmp_path / "demo.zip").exists()
