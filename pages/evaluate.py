"""Evaluate: how good the model is, where it goes wrong, where it looks, and what to do next."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages import evaluate_text, ui
from tlcore.studio import RunDir, advise, calibration_sentence, gradcam, in_texts, run_texts

GALLERY = 24  # misclassified images shown at most
PER_ROW = 6
SCORES = {
    "accuracy": ("Accuracy", "The share of images put in the right class."),
    "precision_macro": ("Precision", "When the model names a class, how often it is right (average over classes)."),
    "recall_macro": ("Recall", "Of the images of each class, how many the model finds (average over classes)."),
    "f1_macro": ("F1 score", "Precision and recall combined into one number; 100% is perfect."),
}


SPLIT_NAMES = {"test": "test images", "cv": "cross-validation (all labelled images)", "val": "validation images"}
SPLIT_HELP = ("Test images were never used while training or choosing the model, so their score is the most "
              "honest. Cross-validation scores every labelled image with a model trained without it. Validation "
              "images were set aside from training and used to pick the kept epoch.")
SHOWN_ADVICE = 3


def render() -> None:
    st.title("How good is the model?")
    run = ui.pick_trained_run("evaluate")
    if run is None:
        return
    metrics = run.metrics()
    texts = run_texts(run.path)  # None for an image run
    say = str if texts is None else in_texts  # the page's sentences, worded for the run's kind
    st.markdown(f"### {metrics.score.sentence()}")
    if metrics.score.leaked:
        st.warning(metrics.score.leaked, icon=":material/content_copy:")
    st.caption(say("The share of images the saved model puts in the right class; the range is where the true "
                   "share most likely lies (95% interval), which is wide when there are few images."))
    split = metrics.splits[0]
    if len(metrics.splits) > 1:
        split = st.radio("Scored on", metrics.splits, horizontal=True, format_func=lambda s: say(SPLIT_NAMES[s]),
                         help=say(SPLIT_HELP), key=f"split_{run.name}")
    scores = metrics.split(split)
    for column, (key, (title, text)) in zip(st.columns(4), SCORES.items()):
        column.metric(title, f"{getattr(scores, key):.1%}", help=say(text))
    st.caption(say(_measured_on(split, scores.count, metrics)))
    if metrics.growth:
        _growth(metrics.growth)
    with ui.friendly_errors():
        _advice(run, split)
    _confusion(scores, say)
    _per_class(scores, say)
    predictions = _predictions(str(run.path), split)
    _gallery(predictions, say(SPLIT_NAMES[split]), texts)
    _label_issues(metrics, texts, say)
    if metrics.calibration:
        _calibration(metrics.calibration, say, "image" if texts is None else "text")
    with ui.friendly_errors():
        if texts is None:  # Grad-CAM draws on images
            _where_it_looked(run, predictions)
        else:
            evaluate_text.words(run, predictions, texts)


def _measured_on(split: str, count: int, metrics) -> str:
    if split == "cv":
        method = metrics.estimate.method  # "5-fold cross-validation", as the run recorded it
        times = f"{method.split('-')[0]} times" if method.split("-")[0].isdigit() else "several times"
        return (f"Every one of the {count} labelled images was used for both training and checking, {times} "
                "over: each was checked once by a model that did not train on it, and the saved model then "
                f"trained on all of them. In machine-learning terms: {method}.")
    words = "test images" if split == "test" else "validation images"
    copies = next((s.copies for s in (metrics.score, metrics.estimate) if s.split == split), None)
    if copies:  # "never saw" only where it was checked and is true
        which = "is a copy of a training image" if copies == 1 else "are copies of training images"
        return f"Measured on {count} {words}; {copies} of them {which}, which the model saw while training."
    if copies is None:
        return f"Measured on {count} {words} set apart from training."
    if split == "test":
        return f"Measured on {count} test images the model never saw while training."
    return f"Measured on {count} validation images the model did not learn from."


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _growth(growth: dict) -> None:
    """What adding (or removing) classes to an earlier model cost and gained."""
    st.subheader("Classes added to an earlier model")
    old, new = growth["old_classes"], growth["new_classes"]
    left, middle, right = st.columns(3)
    left.metric("Known classes, before", _pct(growth["old_accuracy_before"]),
                help=f"The earlier model on this run's validation images of {ui.md_safe(', '.join(old) or 'no class')}.")
    middle.metric("Known classes, now", _pct(growth["old_accuracy_after"]),
                  help="This model on the same images: a big drop would mean it forgot what it knew.")
    right.metric("New classes", _pct(growth["new_accuracy"]),
                 help=f"This model on {ui.md_safe(', '.join(new) or 'no class')}.")
    if growth["removed_classes"]:
        st.caption(f"Removed: {ui.md_safe(', '.join(growth['removed_classes']))}.")


def _advice(run: RunDir, split: str) -> None:
    st.subheader("What to do next")
    tips = advise(run, split)
    for tip in tips[:SHOWN_ADVICE]:
        st.info(ui.md_safe(tip), icon=":material/lightbulb:")
    if len(tips) > SHOWN_ADVICE:
        with st.expander(f"{len(tips) - SHOWN_ADVICE} more suggestions"):
            for tip in tips[SHOWN_ADVICE:]:
                st.markdown(f"- {ui.md_safe(tip)}")


def _confusion(scores: dict, say: Callable[[str], str]) -> None:
    st.subheader("Which classes get mixed up")
    st.caption("Each row is the true class, each column the model's answer; the diagonal holds the right "
               "answers, everything else is a mistake.")
    classes = [ui.plot_safe(c) for c in scores.classes]
    counts = pd.DataFrame(scores.confusion_matrix, index=classes, columns=classes)
    share = counts.div(counts.sum(axis=1).where(lambda s: s > 0, 1), axis=0)
    as_counts, as_share = st.tabs([say("Number of images"), "Share of each true class"])
    with as_counts:
        st.plotly_chart(_heatmap(counts, "d", say("images")), key="confusion_counts")
    with as_share:
        st.plotly_chart(_heatmap(share, ".0%", "share"), key="confusion_share")


def _heatmap(table: pd.DataFrame, fmt: str, unit: str) -> go.Figure:
    fig = px.imshow(table, text_auto=fmt, color_continuous_scale="Blues", aspect="auto",
                    labels=dict(x="model's answer", y="true class", color=unit))
    return fig.update_layout(height=max(320, 40 * len(table) + 120), margin=dict(t=10, b=10))


def _per_class(scores: dict, say: Callable[[str], str]) -> None:
    st.subheader("Scores per class")
    table = pd.DataFrame([{"class": c, **s} for c, s in scores.per_class.items()])
    percent = {k: st.column_config.NumberColumn(k.capitalize(), format="percent", help=say(text))
               for k, text in (("precision", SCORES["precision_macro"][1]), ("recall", SCORES["recall_macro"][1]),
                               ("f1", SCORES["f1_macro"][1]))}
    st.dataframe(table, hide_index=True, column_config={
        "class": "Class", **percent,
        "support": st.column_config.NumberColumn(say("Images"),
                                                 help=say("How many images of this class were scored."))})


@st.cache_data(show_spinner=False, max_entries=8)
def _predictions(run_dir: str, split: str) -> pd.DataFrame:
    rows = RunDir(run_dir).predictions(split)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["file", "true", "predicted", "confidence"])


def _thumbs(rows: list[dict], caption, texts: dict[str, str] | None = None) -> None:
    """Rows of thumbnails, each with a caption made from its row (for a text run: the texts)."""
    if texts is not None:
        return evaluate_text.show_texts(rows, texts, caption)
    for start in range(0, len(rows), PER_ROW):
        for column, row in zip(st.columns(PER_ROW), rows[start:start + PER_ROW]):
            thumb = ui.thumbnail(row["file"])
            if thumb is not None:
                column.image(thumb, width=ui.THUMB_PX)
            column.caption(caption(row))


def _gallery(predictions: pd.DataFrame, where: str, texts: dict[str, str] | None) -> None:
    st.subheader("Mistakes")
    unit = "image" if texts is None else "text"
    wrong = predictions[predictions["true"] != predictions["predicted"]]
    if wrong.empty:
        st.success(f"Every {unit} ({where}) was classified correctly.", icon=":material/check_circle:")
        return
    wrong = wrong.sort_values("confidence", ascending=False)
    st.caption(f"{len(wrong)} of {len(predictions)} {unit}s ({where}) were put in the wrong class; the most "
               "confident mistakes come first.")
    _thumbs(wrong.head(GALLERY).to_dict("records"),
            lambda r: f"is **{ui.md_safe(r['true'])}** ({r.get('p_' + r['true'], 0):.0%}), "
                      f"guessed **{ui.md_safe(r['predicted'])}** "
                      f"({r['confidence']:.0%})", texts)


def _label_issues(metrics, texts: dict[str, str] | None, say: Callable[[str], str]) -> None:
    """The labelled images the model finds probably misfiled, with how sure that list is, or one line
    saying why it is withheld (tlcore.training.label_issues.label_check)."""
    st.subheader(say("Images probably labelled wrong"))
    check, issues = metrics.label_check, metrics.label_issues
    measured = (check or {}).get("measured_on", MEASURED_ON_IMAGES if texts is None else None)
    if check is None or measured is None:
        st.caption(say("Not checked: this run was trained before the check of labels was measured for reliability "
                       "on images. Train again to see it."))
        return
    if not check["shown"]:
        st.caption(say(check["reason"]))
        return
    held = "in cross-validation" if metrics.held_out == "cv" else "on the validation images"
    if not issues:
        st.caption(say(f"None stands out: every labelled image's label is one the model finds plausible ({held})."))
        return
    one = len(issues) == 1
    st.caption(say(f"{len(issues)} labelled {'image' if one else 'images'} look{'s' if one else ''} much more "
                   f"like another class than the one {'it is' if one else 'they are'} filed under, judged by a model "
                   f"that never saw {'it' if one else 'them'} ({held}). About {round(check['precision'] * 10)} in 10 "
                   f"of these are usually real labelling mistakes at this accuracy ({check['accuracy']:.0%} {held}), ")
               + f"{measured}."
               + say(" Check them and move any that are in the wrong folder; wrong labels teach the model wrong "
                     "things."))
    _thumbs(issues[:GALLERY], lambda r: f"filed as **{ui.md_safe(r['given'])}** ({r['given_probability']:.0%}), "
                                        f"looks like **{ui.md_safe(r['suggested'])}** ({r['suggested_probability']:.0%})",
            texts)


# What the label check's precision was measured on, for an image run saved before its check said so.
MEASURED_ON_IMAGES = "measured on images with labels moved on purpose"
BINS_ON = {"test": "test images", "cv": "labelled images, each scored without it",
           "val": "validation images"}


def _calibration(cal: dict, say: Callable[[str], str], kind: str) -> None:
    """What was done to the confidence and how it measured (and how it measured on benchmark data of
    the run's ``kind``), drawn on images it was not fitted on."""
    st.subheader("Can you trust its confidence?")
    st.caption(say("When the model says it is 80% sure, it should be right 80% of the time; the calibration error is "
                   f"how far off it is on average. {calibration_sentence(cal, kind)} The Use page marks answers "
                   "\"not sure\" only under a rule you choose there."))
    where = say(BINS_ON.get(cal.get("bins_on", ""), ""))
    if not where:  # a run from an older version: its "after" was measured on the images it was fitted on
        traces = [("bins_before", "the model's own confidence", "#E69F00")]
        where = say("held-out images")
    else:
        traces = [("bins_before", "unadjusted", "#E69F00")]
        if cal["kept"]:
            traces.append(("bins_after", "adjusted, as the Use page shows it", "#0072B2"))
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                               line=dict(color="#999999", dash="dot")))
    for key, name, colour in traces:
        bins = cal[key]
        fig.add_trace(go.Scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins],
                                 mode="lines+markers", name=name, line=dict(color=colour),
                                 text=[say(f"{b['count']} images") for b in bins]))
    fig.update_layout(height=360, margin=dict(t=10, b=10), legend_title_text="",
                      xaxis=dict(title="how sure the model said it was", tickformat=".0%", range=[0, 1]),
                      yaxis=dict(title="how often it was right", tickformat=".0%", range=[0, 1.02]))
    st.plotly_chart(fig, key="reliability")
    st.caption(f"Drawn on the {where}; the closer a line runs to the dotted diagonal, the more its confidence "
               "can be taken at its word.")


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
                         help="Any image of the chosen split; the mistakes are listed first.")
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
    st.caption(f"Red areas weighed most in the answer '{ui.md_safe(predicted)}'; blue ones hardly mattered.")


if __name__ == "__main__":
    render()
