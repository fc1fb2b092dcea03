"""The Train page's live charts, built with plotly's graph objects (no Streamlit here, so the
benchmark draws exactly what the page draws). They are redrawn every poll while a run trains,
and graph objects cost about a tenth of plotly express's time per figure (2 vs 24 ms)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from tlcore.studio import in_texts, plot_text

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


def curves_figure(rows: list[dict], metric: str, texts: bool = False) -> go.Figure:
    """One per-epoch measure of a run: the training images against the held-out ones (validation
    images, or every image scored by the cross-validation model that did not train on it); "texts" for
    a text run."""
    held = HELD_OUT.get(rows[-1].get("held_out", "val"), HELD_OUT["val"]) if rows else HELD_OUT["val"]
    say = in_texts if texts else str
    series, styles = {}, {}
    for prefix, name in (("train", say("training images")), ("val", say(held))):
        points = [(r["epoch"], r[f"{prefix}_{metric}"]) for r in rows if r.get(f"{prefix}_{metric}") is not None]
        if points:
            series[name], styles[name] = tuple(map(list, zip(*points))), STYLES[prefix]
    fig = _lines(series, METRICS[metric][0], 300, styles)
    return fig if metric == "loss" else fig.update_yaxes(**_SHARE_AXIS)


def class_recall_figure(rows: list[dict], texts: bool = False) -> go.Figure:
    """Held-out recall of each class per epoch (rows of epoch, class, recall); "texts" for a text run."""
    series: dict[str, tuple[list, list]] = {}
    for r in rows:
        x, y = series.setdefault(plot_text(r["class"]), ([], []))
        x.append(r["epoch"])
        y.append(r["recall"])
    title = f"Recall of each class (held-out {'texts' if texts else 'images'})"
    return _lines(series, title, 320).update_yaxes(**_SHARE_AXIS)


STATIC = {"displayModeBar": False}  # st.plotly_chart config: no zoom and export toolbar on explanatory charts
_POWERS = {0: "", 3: " thousand", 6: " million", 9: " billion"}
LEARNS, FROZEN = "#e4572e", "#c8c8c8"


def power_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Ticks for a log axis from ``low`` to ``high``: powers of ten only, in words ("10 thousand",
    "1 million"), so a reader needs no "2, 5, 10k" shorthand."""
    first, last = math.floor(math.log10(max(low, 1))), math.ceil(math.log10(max(high, 1)))
    values = [10 ** e for e in range(first, last + 1)]
    return values, [f"{10 ** (e % 3)}{_POWERS.get(e - e % 3, f' x 10^{e - e % 3}')}" for e in range(first, last + 1)]


def stages_figure(names: list[str], counts: list[int], learns: list[bool], title: str) -> go.Figure:
    """The network's stages, left to right, by their number of parameters (a log axis: stages
    differ a thousandfold), coloured by whether they learn."""
    shown = [c for c in counts if c > 0] or [1]
    values, labels = power_ticks(min(shown), max(shown))
    fig = go.Figure(go.Bar(
        x=names, y=counts, customdata=counts, marker_color=[LEARNS if on else FROZEN for on in learns],
        text=["learns" if on else "frozen" for on in learns], textposition="outside",
        hovertemplate="%{x}: %{customdata:,} parameters<extra></extra>"))
    return fig.update_layout(
        title=title, height=340, margin=dict(t=50, b=10),
        yaxis=dict(type="log", title="parameters (learned numbers)", tickvals=values, ticktext=labels,
                   range=[math.log10(values[0]), math.log10(max(shown)) + 0.35]))  # room for the words on top
