"""Text projects in the studio: a table or zip of texts becomes the current dataset, checked in plain
sentences, and the Model page offers the bundled sentence encoder only."""

import io
import zipfile

import pytest
from app_fixtures import charts, goto, studio, texts, wait_until
from text_fixtures import TOPICS, table_bytes, write_table

from pages import choices, ui
from tlcore.rundir import RunDir
from tlcore.studio import import_text_path, list_datasets, list_specs, text_folder


def _import(at, name: str, data: bytes, columns: tuple[str, str] | None = None):
    box = next(u for u in at.file_uploader if u.label == "Table or zip of texts")
    box.set_value((name, data, "text/csv"))
    at.run()
    if columns:
        at.selectbox(key="text_column").set_value(columns[0])
        at.selectbox(key="label_column").set_value(columns[1])
        at.run()
    next(b for b in at.button if b.label == "Import these texts").click()
    return at.run()


def test_a_csv_upload_becomes_the_text_dataset_with_its_audit_and_no_image_parts():
    marked = "<b>bold</b> **match** tonight"  # in two classes: the audit quotes it
    rows = [[t, label] for label, items in TOPICS.items() for t in items] + [[marked, "sport"], [marked, "food"]]
    at = _import(studio(), "reviews.csv", table_bytes(rows))
    assert not at.exception and not at.error
    assert "Imported: 'reviews' with 3 classes and 26 texts." in texts(at.success)
    assert ui.is_text(at.session_state[ui.DATASET])
    assert {m.label: m.value for m in at.metric} == {"Classes": "3", "Usable texts": "26"}
    shown = texts(at.markdown)
    assert "26 texts in 3 classes: 'food' 9; 'sport' 9; 'weather' 8." in shown
    assert "Examples from each class" not in texts(at.subheader) and "Image sizes" not in texts(at.subheader)
    assert "**Texts:** reviews (3 classes, 26 texts)" in texts(at.sidebar.markdown)
    assert ui.md_safe("<b>bold</b> **match**") in shown and "<b>" not in shown  # the audit's lines are escaped
    assert at.session_state[ui.MODEL] == "all_minilm_l6_v2"


def test_columns_that_cannot_be_guessed_are_asked_for():
    rows = [[t[::-1], t, label] for label, items in TOPICS.items() for t in items]  # two columns of like length
    at = studio()
    box = next(u for u in at.file_uploader if u.label == "Table or zip of texts")
    box.set_value(("mixed.csv", table_bytes(rows, ("a", "b", "c")), "text/csv"))
    at.run()
    asked = [s.label for s in at.selectbox if s.key in ("text_column", "label_column")]
    assert asked == ["Text column", "Label column"]
    at = _import(at, "mixed.csv", table_bytes(rows, ("a", "b", "c")), columns=("b", "c"))
    assert not at.exception and not at.error
    assert "Imported: 'mixed' with 3 classes and 24 texts." in texts(at.success)


def test_guessed_columns_are_shown_prefilled_and_can_be_changed():
    rows = [[t, ("web", "mail")[i % 2], label] for label, items in TOPICS.items() for i, t in enumerate(items)]
    table = table_bytes(rows, ("message", "channel", "about"))  # two repeating columns: the fewer values win
    at = studio()
    next(u for u in at.file_uploader if u.label == "Table or zip of texts").set_value(("asked.csv", table, "text/csv"))
    at.run()
    assert "Guessed: texts from column 'message', classes from column 'channel'. Change them below if that is " \
           "wrong." in texts(at.caption)
    assert (at.selectbox(key="text_column").value, at.selectbox(key="label_column").value) == ("message", "channel")
    at = _import(at, "asked.csv", table, columns=("message", "about"))
    assert not at.exception and not at.error
    assert "Imported: 'asked' with 3 classes and 24 texts." in texts(at.success)
    assert {m.label: m.value for m in at.metric} == {"Classes": "3", "Usable texts": "24"}
    at = _import(at, "asked.csv", table, columns=("message", "channel"))  # back to the guess
    assert "Imported: 'asked' with 2 classes and 24 texts." in texts(at.success)


def test_a_zip_of_class_folders_of_texts_is_imported_and_reopened_from_earlier_datasets():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for label, items in TOPICS.items():
            for i, t in enumerate(items):
                z.writestr(f"{label}/{i}.txt", t)
    at = _import(studio(), "topics.zip", buf.getvalue())
    assert not at.exception and not at.error
    assert "Imported: 'topics' with 3 classes and 24 texts." in texts(at.success)
    folder = at.session_state[ui.DATASET]
    fresh = studio()
    fresh.selectbox(key="earlier_dataset").set_value(folder)
    next(b for b in fresh.button if b.label == "Open this dataset").click()
    fresh.run()
    assert not fresh.exception and "Opened: 'topics' with 3 classes and 24 texts." in texts(fresh.success)


def test_the_model_page_offers_the_sentence_encoders_for_texts_only():
    at = _import(studio(), "reviews.csv", table_bytes())
    at = goto(at, "model")
    assert not at.exception
    line = texts(at.info)
    assert "Texts use the bundled English sentence encoder, MiniLM-L6 sentence encoder (90.9 MB" in line
    offered = [b.key for b in at.button if b.label in ("Use this model", "Chosen")]
    assert offered == [f"use_{s.name}" for s in list_specs("text")]  # sentence encoders only, no image model


@pytest.fixture
def text_dataset(tmp_path) -> str:
    """The 3 topics x 8 sentences table stored in this test's workspace; its folder."""
    return text_folder(import_text_path(write_table(tmp_path / "reviews.csv")))


def test_strategy_counts_the_encoders_seven_stages_and_plans_a_deeper_run(text_dataset):
    # settings kept from an image project that a text run cannot have are left out of its plan
    at = studio("strategy", **{ui.DATASET: text_dataset, "opt_augment": "strong", "opt_recipe": "most_accurate",
                               "opt_train_bn": True})
    assert not at.exception and not at.error
    slider = at.slider(key=choices.STAGES)
    assert slider.max == 7
    names = list(charts(at).values())[0].data[0].x
    assert list(names) == ["embeddings", *(f"layer {k}" for k in range(1, 7)), "new final layer"]
    frozen = {m.label: m.value for m in at.metric}["Parameters that will learn"]
    slider.set_value(2).run()
    assert not at.exception and not at.error
    assert int({m.label: m.value for m in at.metric}["Parameters that will learn"].replace(",", "")) > \
        int(frozen.replace(",", ""))
    assert "your 24 labelled texts" in texts(at.caption)
    assert "MiniLM-L6 sentence encoder, from the text (left)" in list(charts(at))[0]
    assert "Which model to make" not in [r.label for r in at.radio]
    assert not [w for w in (*at.selectbox, *at.checkbox, *at.number_input)
                if w.key in ("opt_augment", "image_size_own", "image_size_pixels", "opt_train_bn")]


def test_a_text_run_started_from_the_train_page_shows_its_live_charts(text_dataset):
    at = studio("train", **{ui.DATASET: text_dataset, choices.STAGES: 0, "opt_epochs": 2, "opt_device": "cpu"})
    assert "keeps MiniLM-L6 sentence encoder as it is" in texts(at.markdown)
    assert "**2** epochs, texts read up to 256 tokens, on this computer's processor (CPU)." in texts(at.markdown)
    assert "pixels" not in texts(at.markdown) and "augmentation" not in texts(at.markdown)
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    run = RunDir(at.session_state[ui.RUN])
    wait_until(at, lambda at: "Finished" in texts(at.subheader), timeout=240)
    assert not at.exception and not at.error
    assert run.record().config.model == "all_minilm_l6_v2"
    assert ("**This run:** keeps MiniLM-L6 sentence encoder as it is and trains only a new last layer, 2 epochs, "
            "texts read up to 256 tokens, on this computer's processor (CPU).") in texts(at.markdown)
    assert "Loss" in charts(at)


def test_typed_texts_make_a_dataset_and_join_its_classes():
    at = studio()
    at.text_input(key="typed_class_names").set_value("praise, complaint").run()
    at.text_area(key="typed_lines_praise").set_value("Great service\nLovely staff, <b>thanks</b>\n\n")
    at.text_area(key="typed_lines_complaint").set_value("My parcel never came\nThe refund is late")
    next(b for b in at.button if b.label == "Save these texts as a dataset").click()
    at.run()
    assert not at.exception and not at.error
    assert "Saved: 'typed texts' with 2 classes and 4 texts." in texts(at.success)
    at.text_input(key="typed_class").set_value("Question").run()
    at.text_area(key="typed_lines").set_value("Where is my order?\nDo you ship abroad?")
    next(b for b in at.button if b.label == "Add these texts to 'typed texts'").click()
    at.run()
    assert not at.exception and not at.error
    assert "Added to 'typed texts': it now has 3 classes and 6 texts." in texts(at.success)
    assert {m.label: m.value for m in at.metric} == {"Classes": "3", "Usable texts": "6"}


def test_a_table_with_one_column_gets_one_plain_line_and_nothing_is_stored():
    at = _import(studio(), "one.csv", b"text\nhello there\ngood morning\n")
    assert not at.exception
    assert [e.value for e in at.error] == [ui.md_safe("one.csv has only one column ('text'); it needs a column of "
                                                      "texts and a column of their labels (the class of each text).")]
    assert not list_datasets() and ui.DATASET not in at.session_state
