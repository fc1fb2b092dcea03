"""A text run on the pages that make and compare runs: Data, Strategy, Train and Runs word it as texts,
never as images, and show only the settings a text run has."""

import re

import pytest
from app_fixtures import studio
from text_fixtures import MISFILED, TOPICS, everything_shown, table_bytes, text_run, workspace_text_run  # noqa: F401

from pages import ui
from tlcore.studio import import_texts, text_folder


def _topics() -> str:
    """The run's texts, stored in this test's workspace: the current dataset."""
    rows = [[t, label] for label, items in TOPICS.items() for t in items] + [[MISFILED, "sport"]]
    return text_folder(import_texts(table_bytes(rows), "topics.csv"))


@pytest.mark.parametrize("page", ["strategy", "train", "runs"])
def test_a_text_runs_making_pages_never_say_image(workspace_text_run, page):
    at = studio(page, **{ui.RUN: workspace_text_run, ui.DATASET: _topics()})
    assert not at.exception and not at.error
    shown = everything_shown(at.main) + everything_shown(at.sidebar)
    assert "texts" in shown
    assert not re.findall(r"[^\n]{0,60}\bimages?\b[^\n]{0,60}", shown, re.IGNORECASE)
    assert "BatchNorm" not in shown and "ImageNet" not in shown  # settings that do not apply to a text encoder


def test_the_data_page_is_titled_for_the_current_datasets_kind(workspace_text_run):
    assert studio().title[0].value == "Your images"  # no dataset yet
    at = studio(**{ui.RUN: workspace_text_run, ui.DATASET: _topics()})
    assert not at.exception and at.title[0].value == "Your texts"


def test_a_text_run_on_train_is_worded_as_texts_while_an_image_dataset_is_current(workspace_text_run):
    from pools import dataset

    at = studio("train", **{ui.RUN: workspace_text_run, ui.DATASET: dataset()})
    assert not at.exception and not at.error
    captions = "\n".join(c.value for c in at.caption)
    assert "Training texts are the ones the model learns from" in captions, captions
    assert "Training images" not in captions and "validation images" not in captions
