"""The Use page's live camera: the model's answer and every class's probability, updated as the
camera moves, and where the model looked in a frozen frame."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages import ui
from pages.camera import SMALL, live_camera
from tlcore.studio import (FrameClassifier, LiveFeed, NotSureRule, RunDir, frame_jpeg, gradcam, live_classifier,
                           model_changed, rule_sentence)

FEED = "live_feed"  # this session's LiveFeed (the camera thread feeds it)
FROZEN = "live_frozen"  # (run folder, JPEG bytes, probabilities) of the frozen frame
REFRESH_S = 0.3  # how often the answer on the page is redrawn: reads as live, costs little


@st.cache_resource(show_spinner="Getting the model ready for the live camera…", max_entries=2)
def _classifier(run_dir: str, changed: float) -> FrameClassifier:
    """The run's model for single frames, made once; ``changed`` (the weights' time) renews it."""
    return live_classifier(run_dir)


@st.cache_data(show_spinner=False, max_entries=8)
def _gradcam(run_dir: str, jpeg: bytes):
    return gradcam(run_dir, jpeg)


def section(run: RunDir, rule: NotSureRule) -> None:
    """The live camera with the model's answer; a frozen frame with where the model looked."""
    feed: LiveFeed = st.session_state.setdefault(FEED, LiveFeed())
    if not st.toggle("Classify the live camera", key="live_on",
                     help="A live view of the camera with the model's answer, updated as you move things."):
        feed.classifier = None
        return
    ctx = live_camera("live_camera", feed.offer, SMALL)
    if not ctx.state.playing:
        feed.classifier = None
        feed.forget()
        st.caption("Press 'Start the camera'; your browser asks for permission.")
    else:
        with ui.friendly_errors():
            feed.classifier = _classifier(str(run.path), model_changed(run))
        _answer(feed, rule)
        if st.button("Freeze this frame and show where the model looked", key="live_freeze",
                     help="Keeps the current picture and colours the parts that weighed most in the answer."):
            latest = feed.latest()
            if latest is None:
                st.info("No picture has been classified yet; wait a moment and try again.", icon=":material/info:")
            else:
                st.session_state[FROZEN] = (str(run.path), frame_jpeg(latest.frame), latest.probabilities)
    _frozen(run, rule)


def verdict(probabilities: dict[str, float], rule: NotSureRule) -> str:
    """The answer in words: the top class and how sure, marked "not sure" under the rule."""
    best, p = max(probabilities.items(), key=lambda kv: kv[1])
    if rule.unsure(p):
        return f"Not sure — maybe {ui.md_safe(best)} ({p:.0%} sure)"
    return f"{ui.md_safe(best)} ({p:.0%} sure)"


def answer(box, row: dict, rule: NotSureRule, key: str) -> None:
    """A prediction's answer in words (with the rule's sentence when not sure) and its top classes'
    probabilities as bars, drawn in ``box`` (a column or the page)."""
    box.markdown(f"### {verdict(dict(row['top']), rule)}")
    if rule.unsure(row["top"][0][1]):
        box.caption(rule_sentence(rule))
    top = pd.DataFrame([(ui.plot_safe(c), p) for c, p in row["top"]], columns=["class", "probability"])
    fig = px.bar(top, x="probability", y="class", orientation="h", range_x=[0, 1], text_auto=".0%")
    fig.update_layout(height=60 + 40 * len(top), margin=dict(t=10, b=10), yaxis=dict(autorange="reversed"),
                      xaxis_tickformat=".0%")
    box.plotly_chart(fig, key=f"top_{key}")


def not_sure_column(rule: NotSureRule):
    """A results table's "Not sure" column (a row's ``not_sure``: ``rule.unsure`` of its answer)."""
    return st.column_config.CheckboxColumn("Not sure", help=rule_sentence(rule))


def _answer(feed: LiveFeed, rule: NotSureRule) -> None:
    """The latest frame's answer and per-class bars, redrawn every REFRESH_S while the camera runs."""

    @st.fragment(run_every=REFRESH_S)
    def draw() -> None:
        latest, classifier = feed.latest(), feed.classifier
        with st.container(key="live_answer"):
            if latest is None or classifier is None or list(latest.probabilities) != classifier.classes:
                st.caption("Waiting for the first picture…")
                return
            st.markdown(f"### {verdict(latest.probabilities, rule)}")
            for name, p in latest.probabilities.items():  # the model's class order: bars do not jump
                st.progress(min(max(p, 0.0), 1.0), text=f"{ui.md_safe(name)}: {p:.0%}")  # float32 sums overshoot
            per_second, ms = feed.meter.rate()
            st.caption(f"{per_second:.1f} answers a second, {ms:.0f} ms each on this computer's processor. "
                       + rule_sentence(rule))

    draw()


def _frozen(run: RunDir, rule: NotSureRule) -> None:
    """The frozen frame with its answer and the Grad-CAM heatmap over it."""
    frozen = st.session_state.get(FROZEN)
    if not frozen or frozen[0] != str(run.path):
        return
    _, jpeg, probabilities = frozen
    st.markdown(f"**Frozen frame**: {verdict(probabilities, rule)}")
    with ui.friendly_errors(), st.spinner("Working out where the model looked…"):
        picture, heat, predicted = _gradcam(str(run.path), jpeg)
        fig = px.imshow(picture)
        fig.add_trace(go.Heatmap(z=heat, colorscale="Jet", opacity=0.45, showscale=False, hoverinfo="skip"))
        fig.update_layout(height=360, margin=dict(t=10, b=10), xaxis_visible=False, yaxis_visible=False)
        st.plotly_chart(fig, key="live_gradcam")
        st.caption(f"Red areas weighed most in the answer '{ui.md_safe(predicted)}'; blue ones hardly mattered.")
    if st.button("Let go of the frozen frame", key="live_unfreeze"):
        st.session_state.pop(FROZEN, None)
        st.rerun()
