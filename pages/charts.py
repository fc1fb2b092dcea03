"""The Train page's live charts, built with plotly's graph objects (no Streamlit here, so the
benchmark draws exactly what the page draws). They are redrawn every poll while a run trains,
and graph objects cost about a tenth of plotly express's time per figure (2 vs 24 ms)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

METRICS = {  # per-epoch curve -> (title, one-line explanation)
    "loss": ("Loss", "How wrong the model's guesses are on average; lower is better."),
    "accuracy": ("Accuracy", "The share of images put in the right class."),
    "precision": ("Precision", "When the model names a class, how often it is right (averaged over classes)."),
    "recall": ("Recall", "Of the images of each class, how many the model finds (averaged over classes)."),
}
_SHARE_AXIS = dict(range=[0, 1.02], tickformat=".0%")


def _lines(series: dict[str, tuple[list, list]], title: str, height: int) -> go.Figure:
    fig = go.Figure([go.Scatter(x=x, y=y, name=name, mode="lines+markers") for name, (x, y) in series.items()])
    epochs = max((max(x) for x, _ in series.values() if x), default=1)
    return fig.update_layout(title=title, height=height, margin=dict(t=40, b=10), legend_title_text="",
                             xaxis=dict(title="epoch", dtick=max(1, math.ceil(epochs / 10))))  # whole epochs


def curves_figure(rows: list[dict], metric: str) -> go.Figure:
    """One per-epoch measure of a run: the training images against the validation images."""
    series = {}
    for prefix, name in (("train", "training images"), ("val", "validation images")):
        points = [(r["epoch"], r[f"{prefix}_{metric}"]) for r in rows if r.get(f"{prefix}_{metric}") is not None]
        if points:
            series[name] = tuple(map(list, zip(*points)))
    fig = _lines(series, METRICS[metric][0], 300)
    return fig if metric == "loss" else fig.update_yaxes(**_SHARE_AXIS)


def class_recall_figure(rows: list[dict]) -> go.Figure:
    """Validation recall of each class per epoch (rows of epoch, class, recall)."""
    series: dict[str, tuple[list, list]] = {}
    for r in rows:
        x, y = series.setdefault(r["class"], ([], []))
        x.append(r["epoch"])
        y.append(r["recall"])
    return _lines(series, "Recall of each class (validation images)", 320).update_yaxes(**_SHARE_AXIS)
