"""The Evaluate page's view of examples for a text run: each text itself (escaped, shortened when
long) with what the model made of it, where an image run shows thumbnails, and for a picked text
which of its words moved the answer, where an image run shows where the model looked."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from pages import text_words, ui
from tlcore.studio import RunDir

SHOWN_CHARS = 300  # of a text shown as an example; the rest is marked with "…"
PICK_CHARS = 80  # of a text in the list to pick one from


def shown_text(text: str) -> str:
    """``text`` as escaped Markdown, cut to SHOWN_CHARS characters."""
    cut = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS].rstrip() + " …"
    return ui.md_safe(cut)


def show_texts(rows: list[dict], texts: dict[str, str], caption: Callable[[dict], str]) -> None:
    """One bordered box per row: its text (found by the row's ``file``, as the run named it) and
    ``caption(row)`` under it."""
    for row in rows:
        with st.container(border=True):
            st.markdown(shown_text(texts.get(row["file"], row["file"])))
            st.caption(caption(row))


def words(run: RunDir, predictions: pd.DataFrame, texts: dict[str, str]) -> None:
    """Pick one of the scored texts (the mistakes first) and see which of its words moved the answer."""
    st.subheader("Which words moved the answer")
    if predictions.empty:
        return
    ordered = pd.concat([predictions[predictions["true"] != predictions["predicted"]],
                         predictions[predictions["true"] == predictions["predicted"]]]).to_dict("records")
    files: dict[str, str] = {}  # what the list shows -> the text's name (copies of a text: the first)
    for r in ordered:
        files.setdefault(f"is {r['true']}, guessed {r['predicted']}: {_line(texts.get(r['file'], r['file']))}",
                         r["file"])
    picked = st.selectbox("Text", list(files), key="words_text",
                          help="Any text of the chosen split; the mistakes are listed first.")
    text_words.section(run, texts.get(files[picked], files[picked]), "evaluate")


def _line(text: str) -> str:
    """A text on one short line, for a list to pick from (shown as plain text, not Markdown)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= PICK_CHARS else flat[:PICK_CHARS].rstrip() + " …"
