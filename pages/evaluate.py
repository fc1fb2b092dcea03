"""Evaluate: how good the model is, where it goes wrong, where it looks, and what to do next."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages import ui
from tlcore.advice import advise
from tlcore.explain import gradcam
from tlcore.rundir import RunDir

GALLERY = 24  # misclassified images shown at most
PER_ROW = 6
SCORES = {
    "accuracy": ("Accuracy", "The share of images put in the right class."),
    "precision_macro": ("Precision", "When the model names a class, how often it is right (average over classes)."),
    "recall_macro": ("Recall", "Of the images of each class, how many the model finds (average over classes)."),
    "f1_macro": ("F1 score", "Precision and recall combined into one number; 100% is perfect."),
}


def render() -> None:
    st.title("How good is the model?")
    run = ui.pick_trained_run("evaluate")
    if run is None:
        return
    metrics = run.metrics() or {}
    split = "val"
    if "test" in metrics:
        split = st.radio("Scored on", ["val", "test"], horizontal=True,
                         format_func=lambda s: {"val": "validation images", "test": "test images"}[s],
                         help="Validation images were set aside during training; test images are a separate "
                              "set, never seen while choosing the model, so their score is the most honest.")
    scores = metrics[split]
    for column, (key, (title, text)) in zip(st.columns(4), SCORES.items()):
        column.metric(title, f"{scores[key]:.1%}", help=text)
    st.caption(f"Measured on {scores['count']} {'test' if split == 'test' else 'validation'} images the model "
               "did not learn from.")
    if "growth" in metrics:
        _growth(metrics["growth"])
    with ui.friendly_errors():
        _advice(run)
    _confusion(scores)
    _per_class(scores)
    predictions = _predictions(str(run.predictions_path))
    _gallery(predictions)
    with ui.friendly_errors():
        _where_it_looked(run, predictions)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _growth(growth: dict) -> None:
    """What adding (or removing) classes to an earlier model cost and gained."""
    st.subheader("Classes added to an earlier model")
    old, new = growth["old_classes"], growth["new_classes"]
    left, middle, right = st.columns(3)
    left.metric("Known classes, before", _pct(growth["old_accuracy_before"]),
                help=f"The earlier model on this run's validation images of {', '.join(old) or 'no class'}.")
    middle.metric("Known classes, now", _pct(growth["old_accuracy_after"]),
                  help="This model on the same images: a big drop would mean it forgot what it knew.")
    right.metric("New classes", _pct(growth["new_accuracy"]), help=f"This model on {', '.join(new) or 'no class'}.")
    if growth["removed_classes"]:
        st.caption(f"Removed: {', '.join(growth['removed_classes'])}.")


def _advice(run: RunDir) -> None:
    st.subheader("What to do next")
    tips = advise(run)
    for tip in tips:
        st.info(tip, icon=":material/lightbulb:")
    if not tips:
        st.success("Nothing to fix: the curves and scores look healthy.", icon=":material/check_circle:")


def _confusion(scores: dict) -> None:
    st.subheader("Which classes get mixed up")
    st.caption("Each row is the true class, each column the model's answer; the diagonal holds the right "
               "answers, everything else is a mistake.")
    classes = scores["classes"]
    counts = pd.DataFrame(scores["confusion_matrix"], index=classes, columns=classes)
    share = counts.div(counts.sum(axis=1).where(lambda s: s > 0, 1), axis=0)
    as_counts, as_share = st.tabs(["Number of images", "Share of each true class"])
    with as_counts:
        st.plotly_chart(_heatmap(counts, "d", "images"), key="confusion_counts")
    with as_share:
        st.plotly_chart(_heatmap(share, ".0%", "share"), key="confusion_share")


def _heatmap(table: pd.DataFrame, fmt: str, unit: str) -> go.Figure:
    fig = px.imshow(table, text_auto=fmt, color_continuous_scale="Blues", aspect="auto",
                    labels=dict(x="model's answer", y="true class", color=unit))
    return fig.update_layout(height=max(320, 40 * len(table) + 120), margin=dict(t=10, b=10))


def _per_class(scores: dict) -> None:
    st.subheader("Scores per class")
    table = pd.DataFrame([{"class": c, **s} for c, s in scores["per_class"].items()])
    percent = {k: st.column_config.NumberColumn(k.capitalize(), format="percent", help=text)
               for k, text in (("precision", SCORES["precision_macro"][1]), ("recall", SCORES["recall_macro"][1]),
                               ("f1", SCORES["f1_macro"][1]))}
    st.dataframe(table, hide_index=True, column_config={
        "class": "Class", **percent,
        "support": st.column_config.NumberColumn("Images", help="How many images of this class were scored.")})


@st.cache_data(show_spinner=False, max_entries=8)
def _predictions(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        return pd.DataFrame(columns=["file", "true", "predicted", "confidence"])
    return pd.read_csv(path)


def _gallery(predictions: pd.DataFrame) -> None:
    st.subheader("Mistakes")
    wrong = predictions[predictions["true"] != predictions["predicted"]]
    if wrong.empty:
        st.success("Every validation image was classified correctly.", icon=":material/check_circle:")
        return
    wrong = wrong.sort_values("confidence", ascending=False)
    st.caption(f"{len(wrong)} validation images were put in the wrong class; the most confident mistakes "
               "come first. Check them: some may be labelled wrongly.")
    shown = wrong.head(GALLERY).to_dict("records")
    for start in range(0, len(shown), PER_ROW):
        for column, row in zip(st.columns(PER_ROW), shown[start:start + PER_ROW]):
            thumb = ui.thumbnail(row["file"])
            if thumb is not None:
                column.image(thumb, width=ui.THUMB_PX)
            column.caption(f"is **{row['true']}** ({row.get('p_' + row['true'], 0):.0%}), "
                           f"guessed **{row['predicted']}** ({row['confidence']:.0%})")


@st.cache_data(show_spinner=False, max_entries=16)
def _gradcam(run_dir: str, image_path: str):
    return gradcam(run_dir, image_path)


def _where_it_looked(run: RunDir, predictions: pd.DataFrame) -> None:
    st.subheader("Where the model looked")
    if predictions.empty:
        return
    ordered = pd.concat([predictions[predictions["true"] != predictions["predicted"]],
                         predictions[predictions["true"] == predictions["predicted"]]])
    labels = {r["file"]: f"{Path(r['file']).name}: is {r['true']}, guessed {r['predicted']}"
              for r in ordered.to_dict("records")}
    image = st.selectbox("Image", list(labels), format_func=labels.get,
                         help="Any validation image; the mistakes are listed first.")
    key = (str(run.path), image)
    if st.button("Show where the model looked", help="Colours the parts of the image that weighed most in "
                 "the model's answer (Grad-CAM)."):
        st.session_state["cam"] = key
    if st.session_state.get("cam") != key:
        return
    with st.spinner("Working out where the model looked…"):
        picture, heat, predicted = _gradcam(*key)
    fig = px.imshow(picture)
    fig.add_trace(go.Heatmap(z=heat, colorscale="Jet", opacity=0.45, showscale=False, hoverinfo="skip"))
    fig.update_layout(height=420, margin=dict(t=10, b=10), xaxis_visible=False, yaxis_visible=False)
    st.plotly_chart(fig, key="gradcam")
    st.caption(f"Red areas weighed most in the answer '{predicted}'; blue ones hardly mattered.")


if __name__ == "__main__":
    ui.show(render)
