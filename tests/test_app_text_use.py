"""A trained text model in the studio: Evaluate shows its mistakes as the texts themselves, and Use
classifies a typed text and a table of texts and offers its exports."""

import csv
import io
import shutil

import pytest
from app_fixtures import studio, texts
from text_fixtures import TOPICS

from pages import ui
from tlcore.config import TrainConfig
from tlcore.jobs.train import create_run, execute
from tlcore.studio import import_texts, text_folder
from tlcore.workspace import runs_dir

MISFILED = "<b>Heavy</b> rain and **thunder** all night"  # a weather text filed under sport


def _table(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A frozen MiniLM run (2 epochs, cross-validated) on the topics, one weather text filed as sport."""
    base = tmp_path_factory.mktemp("text-run")
    rows = [[t, label] for label, items in TOPICS.items() for t in items] + [[MISFILED, "sport"]]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(base / "workspace"))
        folder = text_folder(import_texts(_table(rows), "topics.csv"))
        run = create_run(TrainConfig(data=folder, model="all_minilm_l6_v2", trainable_stages=0, epochs=2,
                                     device="cpu"), base / "20250101-000000-all_minilm_l6_v2")
        assert execute(run.path) == "finished"
    return run.path


@pytest.fixture
def workspace_text_run(text_run) -> str:
    target = runs_dir() / text_run.name
    shutil.copytree(text_run, target)
    return str(target)


def test_evaluate_shows_mistakes_as_escaped_texts_and_no_grad_cam(workspace_text_run):
    at = studio("evaluate", **{ui.RUN: workspace_text_run})
    assert not at.exception and not at.error
    shown = texts(at.markdown)
    assert ui.md_safe(MISFILED) in shown  # the text itself, its markup shown as written
    assert "is **sport**" in texts(at.caption)
    assert "Where the model looked" not in texts(at.subheader)
    assert not [b for b in at.button if b.label == "Show where the model looked"]
