"""The Data page's text parts: a table (CSV or TSV) or a zip of class folders of .txt files becomes a
stored text dataset, and the check of a stored text dataset in plain sentences."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from pages import ui
from pages.data_audit import plural
from tlcore.studio import (TextData, add_to_pool, add_typed_texts, class_names, import_texts, table_columns, text_audit,
                           text_folder, type_texts)

TEXT_TYPES = ["csv", "tsv", "tab", "zip"]
TEXT_COLUMN, LABEL_COLUMN, COLUMNS_OF = "text_column", "label_column", "text_columns_of"  # COLUMNS_OF: which upload


def section(then: Callable[[], None] | None = None) -> None:
    """The upload of a table or zip of texts, with the column choice when it cannot be guessed."""
    st.markdown("A table (CSV or TSV) with a column of texts and a column of their classes, or a zip with one "
                "folder per class holding `.txt` files (one example a file). A `split` column, or `train/`, "
                "`val/` and `test/` folders, are honoured.")
    upload = st.file_uploader("Table or zip of texts", type=TEXT_TYPES, key="text_upload",
                              help="Texts are kept exactly as written; rows without a text or a class are "
                                   "left out and counted below.")
    if upload:
        _import(upload, then)
    with st.expander("Type or paste texts", key="typed_texts"):
        _typed(then)
    if ui.is_text(st.session_state.get(ui.DATASET)):
        with st.expander("Add texts without labels, to label with the model", key="unlabelled_texts"):
            _unlabelled(st.session_state[ui.DATASET])


def _unlabelled(folder: str) -> None:
    """A CSV or TSV of texts without a label column into the current text dataset's unlabelled pool."""
    upload = st.file_uploader("Table of unlabelled texts", type=TEXT_TYPES[:3], key="unlabelled_upload",
                              help="A column of texts (named text, review, message... or the longest); other "
                                   "columns are ignored. Texts already labelled or in the pool are left out.")
    if upload and st.button("Add to the unlabelled pool", key="add_unlabelled"):
        with ui.friendly_errors():
            ui.done(add_to_pool(folder, (upload.name, upload.getvalue()))["message"])


def _import(upload, then: Callable[[], None] | None) -> None:
    columns, guess = table_columns(upload.getvalue(), upload.name)
    chosen = (None, None)
    if len(columns) > 1:
        if guess is None:
            st.info("Which column holds the texts and which their classes could not be told: choose them.",
                    icon=":material/help:")
        else:
            st.caption(f"Guessed: texts from column '{ui.md_safe(guess[0])}', classes from column "
                       f"'{ui.md_safe(guess[1])}'. Change them below if that is wrong.")
        text, label = _columns(upload.file_id, columns, guess)
        chosen = (None, None) if (text, label) == guess else (text, label)  # the guess: the same stored dataset
    if st.button("Import these texts", type="primary", help="Read the texts and keep them in the workspace, "
                 "so later runs can use them again."):
        with ui.friendly_errors():
            use_texts(import_texts(upload.getvalue(), upload.name, *chosen), "Imported", then)


def _columns(upload_id: str, columns: list[str], guess: tuple[str, str] | None) -> tuple[str, str]:
    """The text and label columns the user picks, prefilled with the guess (else the first two) for
    each new upload."""
    ss = st.session_state
    if ss.get(COLUMNS_OF) != upload_id or ss.get(TEXT_COLUMN) not in columns or ss.get(LABEL_COLUMN) not in columns:
        ss[TEXT_COLUMN], ss[LABEL_COLUMN] = guess or columns[:2]
        ss[COLUMNS_OF] = upload_id
    left, right = st.columns(2)
    return (left.selectbox("Text column", columns, key=TEXT_COLUMN, format_func=ui.md_safe),
            right.selectbox("Label column", columns, key=LABEL_COLUMN, format_func=ui.md_safe))


def _typed(then: Callable[[], None] | None) -> None:
    """Texts typed or pasted, one a line: into a class of the current text dataset, or as a new one."""
    folder = st.session_state.get(ui.DATASET)
    if ui.is_text(folder):
        name = ui.dataset_summary(folder)["name"]
        label = st.text_input("Class", key="typed_class", help="A class it has, or a new one.")
        lines = st.text_area("Texts, one a line", key="typed_lines")
        if st.button(f"Add these texts to '{ui.md_safe(name)}'", help="Only this dataset's list of texts changes."):
            with ui.friendly_errors():
                data = add_typed_texts(folder, label, lines)
                _audit.clear()
                ui.dataset_summary.clear()
                ui.done(f"Added to '{data.name}': it now has {plural(len(data.classes), 'class')} and "
                        f"{plural(len(data.items), 'text')}.")
        return
    names = class_names(st.text_input("Class names, separated by commas", key="typed_class_names",
                                      placeholder="e.g. complaint, praise, question"))
    typed = {c: st.text_area(f"Texts of '{ui.md_safe(c)}', one a line", key=f"typed_lines_{c}") for c in names}
    name = st.text_input("Dataset name", value="typed texts", key="typed_name")
    if names and st.button("Save these texts as a dataset", help="Keep the texts in the workspace and check them."):
        with ui.friendly_errors():
            use_texts(type_texts(name, typed), "Saved", then)


def use_texts(data: TextData, how: str, then: Callable[[], None] | None = None) -> None:
    """Make the stored text dataset ``data`` the current dataset and say so."""
    st.session_state[ui.DATASET] = text_folder(data)
    if then:
        then()
    ui.done(f"{how}: '{data.name}' with {plural(len(data.classes), 'class')} and {plural(len(data.items), 'text')}.")


@st.cache_data(show_spinner=False, max_entries=16)
def _audit(folder: str) -> dict:
    return text_audit(folder)


def show_text_audit(folder: str) -> None:
    """Draw the check of the stored text dataset in ``folder``: counts and the audit's sentences."""
    summary = ui.dataset_summary(folder) or {"name": folder}
    st.header(f"Check of '{ui.md_safe(summary['name'])}'")
    with st.spinner(f"Checking {plural(summary.get('images', 0), 'text')}…"):
        report = _audit(folder)
    a, b = st.columns(2)
    a.metric("Classes", len(report["counts"]), help="Kinds of texts the model will tell apart.")
    b.metric("Usable texts", report["total"], help="Texts with a class, that will be trained or tested on.")
    for line in report["lines"]:  # already escaped by the audit
        st.markdown(line)
    st.dataframe(pd.DataFrame([{"Class": c, **per} for c, per in report["counts"].items()])
                 .rename(columns={"total": "Texts", "train": "Training", "val": "Validation", "test": "Test"}),
                 hide_index=True)
