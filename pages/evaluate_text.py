"""The Evaluate page's view of examples for a text run: each text itself (escaped, shortened when
long) with what the model made of it, where an image run shows thumbnails."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from pages import ui

SHOWN_CHARS = 300  # of a text shown as an example; the rest is marked with "…"


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
