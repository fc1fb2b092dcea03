"""The Train page's live charts, built with plotly's graph objects (no Streamlit here, so the
benchmark draws exactly what the page draws). They are redrawn every poll while a run trains,
and graph objects cost about a tenth of plotly express's time per figure (2 vs 24 ms)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from tlcore.markdown import plot_text

METRICS = {  # per-epoch curve -> (title, one-line explanation)
    "loss": ("Loss", "How wrong the model's guesses are on average; lower is better."),
    "accuracy": ("Accuracy", "The share of images put in the right class."),
    "precision": ("Precision", "When the model names a class, how often it is right (averaged over classes)."),
    "recall": ("Recall", "Of the images of each class, how many the model finds (averaged over classes)."),
}
_SHARE_AXIS = dict(range=[0, 1.02], tickformat=".0%")


# Okabe-Ito colours, told apart with any colour vision, and dash styles for print and projectors.
STYLES = {"train": dict(color="#E69F00", dash="dash"), "val": dict(color="#0072B2", dash="solid")}
HELD_OUT = {"val": "validation images", "cv": "cross-validated images"}


def _lines(series: dict[str, tuple[list, list]], title: str, height: int,
           styles: dict[str, dict] | None = None) -> go.Figure:
    fig = go.Figure([go.Scatter(x=x, y=y, name=name, mode="lines+markers", line=(styles or {}).get(name))
                     for name, (x, y) in series.items()])
    epochs = max((max(x) for x, _ in series.values() if x), default=1)
    return fig.update_layout(title=title, height=height, margin=dict(t=40, b=10), legend_title_text="",
                             xaxis=dict(title="epoch", dtick=max(1, math.ceil(epochs / 10))))  # whole epochs


def curves_figure(rows: list[dict], metric: str) -> go.Figure:
    """One per-epoch measure of a run: the training images against the held-out ones (validation
    images, or every image scored by the cross-validation model that did not train on it)."""
    held = HELD_OUT.get(rows[-1].get("held_out", "val"), HELD_OUT["val"]) if rows else HELD_OUT["val"]
    series, styles = {}, {}
    for prefix, name in (("train", "training images"), ("val", held)):
        points = [(r["epoch"], r[f"{prefix}_{metric}"]) for r in rows if r.get(f"{prefix}_{metric}") is not None]
        if points:
            series[name], styles[name] = tuple(map(list, zip(*points))), STYLES[prefix]
    fig = _lines(series, METRICS[metric][0], 300, styles)
    return fig if metric == "loss" else fig.update_yaxes(**_SHARE_AXIS)


def class_recall_figure(rows: list[dict]) -> go.Figure:
    """Held-out recall of each class per epoch (rows of epoch, class, recall)."""
    series: dict[str, tuple[list, list]] = {}
    for r in rows:
        x, y = series.setdefault(plot_text(r["class"]), ([], []))
        x.append(r["epoch"])
        y.append(r["recall"])
    return _lines(series, "Recall of each class (held-out images)", 320).update_yaxes(**_SHARE_AXIS)
