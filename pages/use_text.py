"""The Use page for a text model: type or paste a text and see the classes' probabilities and which
of its words moved the answer, or upload a table of texts and download the predictions as CSV."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from pages import text_words, ui
from pages.use_live import answer, not_sure_column
from tlcore.studio import NotSureRule, RunDir, TextPredictor, model_changed, predict_text_table, text_results_csv

TOP = 5


def section(run: RunDir, rule: NotSureRule) -> None:
    """A text box with the answer for what is typed, and a table upload with its CSV of predictions."""
    predictor = None
    with ui.friendly_errors():  # a model this version cannot load: its one line, and nothing else to use
        predictor = text_words.predictor(run)
    if predictor is None:
        return
    typed = st.text_area("Type or paste a text", key=f"typed_{run.name}",
                         help="One text (a message, a review, a ticket); the model names its class.")
    if typed.strip():
        with ui.friendly_errors():
            answer(st, predictor.predict_texts([typed.strip()], top=TOP)[0], rule, "typed")
        text_words.section(run, typed.strip(), "typed")
    st.divider()
    upload = st.file_uploader("Or a table of texts (.csv, .tsv) or a .txt file", type=["csv", "tsv", "tab", "txt"],
                              key=f"texts_{run.name}",
                              help="A table's column of texts (named 'text', or its longest one), one prediction "
                                   "a row; a .txt file is one text.")
    if upload:
        with ui.friendly_errors():
            _table(_predict_table(run, predictor, upload.name, upload.getvalue()), rule)


def _predict_table(run: RunDir, predictor: TextPredictor, name: str, data: bytes) -> list[dict]:
    """The upload's predictions, kept for this session while the upload and the model stay the same."""
    fingerprint = (str(run.path), model_changed(run), name, hashlib.sha256(data).hexdigest())
    kept = st.session_state.get("text_rows")
    if kept and kept[0] == fingerprint:
        return kept[1]
    with st.spinner("Classifying the texts…"):
        rows = predict_text_table(predictor, data, name, TOP)
    st.session_state["text_rows"] = (fingerprint, rows)
    return rows


def _table(rows: list[dict], rule: NotSureRule) -> None:
    """The texts' answers, marked "not sure" under ``rule`` as images' are, and their CSV."""
    columns = {  # shown in this order
        "text": "Text", "predicted": "Class",
        "confidence": st.column_config.ProgressColumn("Confidence", format="percent", min_value=0, max_value=1,
                                                      help="How sure the model is of its answer."),
        **({"not_sure": not_sure_column(rule)} if rule.on else {})}
    table = pd.DataFrame([{"text": r["text"], "predicted": r["top"][0][0], "confidence": r["top"][0][1],
                           "not_sure": rule.unsure(r["top"][0][1])} for r in rows], columns=list(columns))
    st.dataframe(table, hide_index=True, column_config=columns)
    st.download_button("Download all results as CSV", text_results_csv(rows, rule.below if rule.on else None),
                       "predictions.csv", "text/csv",
                       key="csv_texts", on_click="ignore",
                       help="One row per text, with the probability of every class; no cell can run as a "
                            "spreadsheet formula.")
