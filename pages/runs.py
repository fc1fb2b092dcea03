"""Runs: every run ever made; compare them, reopen one, or train again with the same settings."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import ui
from tlcore import runs
from tlcore.config import TrainConfig
from tlcore.rundir import RunDir

CURVES = {
    "val_accuracy": "Accuracy on validation images", "val_loss": "Loss on validation images",
    "train_accuracy": "Accuracy on training images", "train_loss": "Loss on training images",
    "val_precision": "Precision on validation images", "val_recall": "Recall on validation images",
    "val_f1": "F1 score on validation images",
}
COMPARED = 3  # runs preselected for comparison


def render() -> None:
    st.title("All runs")
    rows = runs.list_runs()
    if not rows:
        st.info("No runs yet. Every training run you start is kept here.", icon=":material/info:")
        st.page_link(ui.page("train"), label="Go to Train", icon=":material/arrow_forward:")
        return
    by_path = {str(r["path"]): r for r in rows}
    _table(rows)
    with ui.friendly_errors():
        _compare(by_path)
    with ui.friendly_errors():
        _actions(by_path)


def _label(r: dict) -> str:
    return f"{r['name']} · {ui.model_title(r['model'])} · {r['dataset']}"


def _table(rows: list[dict]) -> None:
    table = pd.DataFrame([{
        "Run": r["name"], "Started": ui.when(r["created"]), "Images": r["dataset"],
        "Model": ui.model_title(r["model"]),
        "Stages trained": str(r["trainable_stages"]), "Epochs": f"{r['epochs_done']} of {r['epochs'] or '?'}",
        "Best accuracy": r["best_val_accuracy"], "State": r["state"], "Note": r.get("error") or r["message"],
    } for r in rows])
    st.dataframe(table, hide_index=True, column_config={
        "Best accuracy": st.column_config.ProgressColumn(
            "Best accuracy", format="percent", min_value=0, max_value=1,
            help="The best share of validation images put in the right class, over all epochs."),
        "Stages trained": st.column_config.TextColumn(
            "Stages trained", help="How many of the network's last stages learned (0 = only a new final layer)."),
    })


def _compare(by_path: dict[str, dict]) -> None:
    st.subheader("Compare runs")
    with_curves = [p for p, r in by_path.items() if r["epochs_done"]]
    if not with_curves:
        st.caption("Runs can be compared once they have finished an epoch.")
        return
    chosen = st.multiselect("Runs to compare", with_curves, default=with_curves[:COMPARED],
                            format_func=lambda p: _label(by_path[p]),
                            help="Their curves are drawn on top of each other and their scores side by side.")
    if not chosen:
        return
    measure = st.selectbox("Measure", list(CURVES), format_func=CURVES.get,
                           help="Validation images were not trained on, so their scores show real quality.")
    curves = pd.concat([pd.DataFrame(runs.history(RunDir(p))).assign(run=by_path[p]["name"]) for p in chosen])
    fig = px.line(curves, x="epoch", y=measure, color="run", markers=True, title=CURVES[measure])
    if "loss" not in measure:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    st.plotly_chart(fig.update_layout(height=360, margin=dict(t=40, b=10), yaxis_title=""), key="compare_curves")
    st.dataframe(pd.DataFrame({by_path[p]["name"]: _facts(RunDir(p)) for p in chosen}))


def _facts(run: RunDir) -> dict:
    """The settings and final scores of a run, as rows of a side-by-side table."""
    cfg = run.read_config().get("config", {})
    val = (run.metrics() or {}).get("val", {})
    test = (run.metrics() or {}).get("test", {})
    percent = lambda v: f"{v:.1%}" if isinstance(v, float) else "–"
    return {
        "Model": ui.model_title(cfg.get("model")), "Stages trained": str(cfg.get("trainable_stages")),
        "Epochs": str(cfg.get("epochs")), "Augmentation": cfg.get("augment"),
        "Learning rate": f"{cfg.get('lr', 0):g}", "Image size": str(cfg.get("image_size") or "model's own"),
        "Accuracy": percent(val.get("accuracy")), "Precision": percent(val.get("precision_macro")),
        "Recall": percent(val.get("recall_macro")), "F1 score": percent(val.get("f1_macro")),
        "Test accuracy": percent(test.get("accuracy")), "State": run.status().get("state"),
    }


def _actions(by_path: dict[str, dict]) -> None:
    st.subheader("Open or repeat a run")
    path = st.selectbox("Run", list(by_path), format_func=lambda p: _label(by_path[p]), key="runs_pick",
                        help="Newest first.")
    left, middle, right = st.columns(3)
    if left.button("Open in Evaluate", disabled=not ui.is_trained(path),
                   help="See its scores, mistakes and advice (once it has finished)."):
        st.session_state[ui.RUN] = path
        st.switch_page(ui.page("evaluate"))
    if middle.button("Show on the Train page", help="Make it the current run and watch its charts."):
        st.session_state[ui.RUN] = path
        st.switch_page(ui.page("train"))
    if right.button("Train again with the same settings", help="A new run with exactly this run's settings, "
                    "on the same images; with the same seed it gives the same result."):
        cfg = TrainConfig.from_json(RunDir(path).read_config()["config"])
        run = runs.start_run(cfg, parent=path)
        ss = st.session_state
        ss[ui.RUN], ss[ui.MODEL], ss[ui.INIT_FROM] = str(run.path), cfg.model, cfg.init_from
        if ui.dataset_summary(cfg.data):
            ss[ui.DATASET] = cfg.data
        st.switch_page(ui.page("train"))


if __name__ == "__main__":
    ui.show(render)
