"""The Label page's bulk accept (with the precision its threshold had on held-out labelled images or texts),
Undo, and the chart of the model's expected accuracy against the labels given."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages import data_audit, label_batch, ui
from pages.charts import STATIC
from pages.data_audit import plural
from tlcore.studio import accuracy_history, bulk_accept, undo

THRESHOLD = "label_threshold"  # the slider's percent
HOW = {"person": "checked by you", "bulk": "accepted in bulk"}
SLIDER_HELP = ("Every pool {thing} whose suggestion is at least this sure gets that class; the label record notes it "
               "was accepted in bulk.")
PRECISION = ("On {held_out} labelled {things} the model had not seen, its suggestions at least {percent}% sure were "
             "right {precision:.0%} of the time ({right} of {accepted}).")
WOULD = "It would label {would} of the {pool} in the pool."
UNDO_HELP = "The {things} of the last saved batch (yours or accepted in bulk) go back to the pool."
UNDONE = "Took back the last batch ({how}): {undone} in the pool again."
NO_CHART = ("A chart of the accuracy the model expects against the labels given appears from 30 labelled {things}, 2 "
            "or more in every class, while the unlabelled {things} outnumber the labelled ones.")
CHART = "Accuracy the model expects on the unlabelled {things}"
HOW_CHART = ("The mean of its calibrated confidence in each suggestion. Tried on four sets of images and one of texts "
             "with known answers, it was within 5 points of the accuracy on new examples at 62-85% of the points, "
             "and read at most 6 points low on average; the accuracy on the {things} you labelled would read "
             "lower still, because the model asked about the hard ones.")


def section(folder: str, state: dict) -> None:
    """"Accept all suggestions the model is at least X% sure of", once the suggestions are up to date."""
    st.subheader("Accept many at once")
    thing = label_batch.noun(folder)
    suggested = state["suggested"]
    if not (suggested and state["current"]):
        st.caption("This appears when the suggestions have caught up with your latest labels.")
    else:
        percent = st.slider("Accept all suggestions the model is at least this sure of (%)", 50, 99, 90,
                            key=THRESHOLD, help=SLIDER_HELP.format(thing=thing))
        threshold = percent / 100
        would = suggested.accept(threshold)
        if would["precision"] is None:
            st.caption(ui.md_safe(would["reason"]))
        else:
            st.caption(PRECISION.format(things=thing + "s", percent=percent, **would))
        st.caption(WOULD.format(would=plural(would["pool"], thing), pool=len(suggested.rows)))
        if st.button(f"Accept {plural(would['pool'], 'suggestion')}", key="label_bulk", disabled=not would["pool"],
                     help="Labels them now; Undo takes them back."):
            label_batch.save_decided(folder)  # the batch's labels stay a person's
            done = bulk_accept(folder, suggested, threshold)
            data_audit.changed()
            ui.done(f"Accepted {plural(done['labelled'], 'suggestion')} at least {percent}% sure; the label record "
                    "notes them as accepted in bulk.")


def undo_button(folder: str, given: int) -> None:
    """Undo the last saved batch (``given``: labels given to pool images so far; none: nothing to undo)."""
    thing = label_batch.noun(folder)
    if st.button("Undo the last batch", key="label_undo", icon=":material/undo:", disabled=not given,
                 help=UNDO_HELP.format(things=thing + "s")):
        back = undo(folder)
        data_audit.changed()
        ui.done(UNDONE.format(how=HOW.get(back["how"], back["how"]), undone=plural(back["undone"], thing)))


def history(folder: str) -> None:
    """Expected accuracy against the number of labels, one point each time the model learned."""
    points = [p for p in accuracy_history(folder) if p.get("expected") is not None]
    things = label_batch.noun(folder) + "s"
    if len(points) < 2:
        st.caption(NO_CHART.format(things=things))
        return
    fig = go.Figure(go.Scatter(x=[p["labels"] for p in points], y=[p["expected"] for p in points],
                               mode="lines+markers", line=dict(color="#0072B2")))
    fig.update_layout(title=CHART.format(things=things), height=280,
                      margin=dict(t=40, b=10), xaxis=dict(title=f"labelled {things}"),
                      yaxis=dict(title="accuracy", range=[0, 1.02], tickformat=".0%"))
    st.plotly_chart(fig, config=STATIC)
    st.caption(HOW_CHART.format(things=things))
