"""The Runs page's strategy sweep: train the current images at several freezing depths, side by side."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import ui
from tlcore.studio import RunDir, get_spec, history, list_sweeps, model_title, start_sweep

POLL_SECONDS = 2.0


def render() -> None:
    """Start a sweep for the current images and model, and list every sweep made so far."""
    st.subheader("Strategy sweep", help=ui.worded("Trains the same images once per choice of how many stages "
                 "learn (and optionally from random weights), so you see which choice suits your images."))
    if ui.guard(ui.DATASET):
        with ui.friendly_errors():
            _start()
    with ui.friendly_errors():
        unfinished = any(not s["done"] for s in list_sweeps())
        st.fragment(run_every=POLL_SECONDS if unfinished else None)(_sweeps)(unfinished)


def _depth_label(depth: int, stages: int) -> str:
    if depth == 0:
        return "0 (only a new final layer)"
    return f"{depth} (all stages)" if depth == stages else str(depth)


def _start() -> None:
    ss = st.session_state
    model, data = ss[ui.MODEL], ss[ui.DATASET]
    stages = len(get_spec(model).stages)
    summary = ui.dataset_summary(data)
    st.caption(ui.worded(f"Images: **{ui.md_safe(summary['name'] if summary else data)}** · Model: "
                         f"**{model_title(model)}**. Each choice below is one training run; they run one after "
                         "another in the background."))
    default = list(dict.fromkeys([0, 1, stages // 2, stages]))
    depths = st.multiselect("Stages to train", list(range(stages + 1)), default=default, key=f"sweep_depths_{model}",
                            format_func=lambda d: _depth_label(d, stages),
                            help="How many of the network's last stages learn in each run. "
                                 "0 keeps the pretrained network as it is and trains only a new final layer.")
    left, right = st.columns(2)
    scratch = left.checkbox("Also train from scratch", key="sweep_scratch",
                            help=ui.worded("One more run that starts from random weights, to show what the "
                                           "pretrained network is worth on your images."))
    epochs = right.number_input("Epochs", min_value=1, max_value=100, value=5, step=1, key="sweep_epochs",
                                help=ui.worded("Passes over the training images in each run. More takes longer."))
    if st.button("Start the sweep", icon=":material/play_arrow:", disabled=not depths,
                 help="Runs in the background; you can leave this page and come back."):
        folder = start_sweep(data, model, depths, scratch, int(epochs))
        ui.done(f"Sweep {folder.name} started.")


def _sweeps(was_unfinished: bool) -> None:
    with ui.friendly_errors():
        found = list_sweeps()
        if not found:
            st.caption("No sweeps yet.")
        for s in found:
            _one(s)
        if was_unfinished and all(s["done"] for s in found):
            st.rerun()  # stop polling


def _one(s: dict) -> None:
    with st.container(border=True):
        st.markdown(f"**Sweep {ui.md_safe(s['name'])}** · started {ui.when(s['created'])}")
        if not s["done"]:
            finished = len(s["rows"])
            st.progress(finished / max(s["planned"], 1),
                        text=f"{finished} of {s['planned']} strategies finished")
        if not s["rows"]:
            return
        st.dataframe(pd.DataFrame([{
            "Strategy": r["strategy"], "Accuracy": r["accuracy"], "F1 score": r["f1_macro"],
            "Seconds": r["seconds"], "State": ui.state_text(r["state"]),
        } for r in s["rows"]]), hide_index=True, column_config={
            "Accuracy": st.column_config.ProgressColumn(
                "Accuracy", format="percent", min_value=0, max_value=1,
                help=ui.worded("The share of validation images put in the right class.")),
            "F1 score": st.column_config.NumberColumn(
                "F1 score", format="%.2f", help="Precision and recall in one number (1 is perfect)."),
            "Seconds": st.column_config.NumberColumn("Seconds", format="%.1f", help="How long the run took."),
        })
        curves = [pd.DataFrame(history(RunDir(r["run"]))).assign(strategy=r["strategy"])
                  for r in s["rows"] if RunDir(r["run"]).exists()]
        curves = [c for c in curves if "val_accuracy" in c]
        if curves:
            fig = px.line(pd.concat(curves), x="epoch", y="val_accuracy", color="strategy", markers=True,
                          title=ui.worded(f"Accuracy on validation images per epoch ({ui.plot_safe(s['name'])})"))
            fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
            fig.update_layout(height=320, margin={"t": 40, "b": 10}, yaxis_title="", legend_title_text="")
            st.plotly_chart(fig, key=f"sweep_chart_{s['name']}")
