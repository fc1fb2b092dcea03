"""The Runs page's learning curve: would more images help, and for which class?"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import ui
from tlcore.studio import CURVE_POINTS, list_curves, start_curve

POLL_SECONDS = 2.0


def render() -> None:
    """Start a learning curve for the current images and model, and draw the latest one."""
    st.subheader(ui.worded("How many more images do I need?"),
                 help=ui.worded("Trains on a quarter, half, three quarters and all of each class's training "
                                "images, scored on the same validation images. Curves still rising at the right "
                                "mean more images of that class would help."))
    data = st.session_state.get(ui.DATASET)
    if not data:
        st.caption("Bring images on the Data page first.")
        return
    with ui.friendly_errors():
        if st.button("Draw the learning curve", icon=":material/show_chart:",
                     help="Four quick runs with the pretrained network frozen, in the background."):
            start_curve(data, st.session_state[ui.MODEL])
            ui.done("Learning curve started.")
        latest = next(iter(list_curves(data)), None)
        if latest is not None:
            st.fragment(run_every=None if latest["done"] else POLL_SECONDS)(_draw)(latest["path"], latest["done"])


def _draw(path: str, was_done: bool) -> None:
    found = next((c for c in list_curves() if c["path"] == path), None)
    if found is None:
        return
    rows = found["rows"]
    if not found["done"]:
        st.progress(len(rows) / CURVE_POINTS, text=f"{len(rows)} of {CURVE_POINTS} points done")
    if rows:
        per_class = ui.worded("images per class")
        points = [{per_class: r["images_per_class"][c], "class": ui.plot_safe(c), "recall": v}
                  for r in rows for c, v in r["recall"].items()]
        fig = px.line(pd.DataFrame(points), x=per_class, y="recall", color="class", markers=True,
                      title=ui.worded("Share of each class's validation images found, by training images per class"))
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
        fig.update_layout(height=340, margin={"t": 40, "b": 10}, yaxis_title="", legend_title_text="")
        st.plotly_chart(fig, key=f"curve_{path}")
        st.caption(ui.worded("Overall accuracy: " + ", ".join(f"{r['fraction']:.0%} of the images {r['accuracy']:.0%}"
                                                              for r in rows if r["accuracy"] is not None) + "."))
    if found["done"] and not was_done:
        st.rerun()  # stop polling
