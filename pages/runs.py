"""Runs: every run ever made; compare them, reopen one, or train again with the same settings."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import curves, sweeps, ui
from tlcore.studio import (DAMAGED, TITLE_CHARS, RunDir, Score, delete_run, diff, history, is_trained, list_runs,
                           model_title, rerun)

CURVES = {  # held-out: validation images, or every image cross-validated, as each run was scored
    "val_accuracy": "Accuracy on held-out images", "val_loss": "Loss on held-out images",
    "train_accuracy": "Accuracy on training images", "train_loss": "Loss on training images",
    "val_precision": "Precision on held-out images", "val_recall": "Recall on held-out images",
    "val_f1": "F1 score on held-out images",
}
COMPARED = 3  # runs preselected for comparison


def render() -> None:
    st.title("All runs")
    rows = list_runs()
    if rows:
        by_path = {str(r["path"]): r for r in rows}
        _table(rows)
        with ui.friendly_errors():
            _compare(by_path)
        with ui.friendly_errors():
            _diff(by_path)
        with ui.friendly_errors():
            _actions(by_path)
    else:
        st.info("No runs yet. Every training run you start is kept here.", icon=":material/info:")
        st.page_link(ui.page("train"), label="Go to Train", icon=":material/arrow_forward:")
    sweeps.render()
    curves.render()


def _label(r: dict) -> str:
    """A run as people know it: its name (yours, or images · model · strategy), never its folder."""
    return f"{r['title']} · damaged record" if r["state"] == DAMAGED else r["title"]


def _table(rows: list[dict]) -> None:
    # Seven columns whose widths (pixels) fit a 1400-pixel window beside the sidebar, the run's
    # name whole; its images, model and strategy are in its default name, its parent and its
    # whole note below, once picked.
    table = pd.DataFrame([{
        "Run": r["title"], "Started": _started(r["created"]), "State": ui.state_text(r["state"]),
        "Epochs": f"{r['epochs_done']} of {r['epochs'] or '?'}",
        "Score": ui.score_text(r["score"]) if r["score"] else "",
        "Tags": ", ".join(r.get("tags") or []), "Note": r.get("error") or r["message"],
    } for r in rows])
    text = st.column_config.TextColumn
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "Run": text("Run", width=290, help=ui.worded("The run's name: yours, or its images · model · how much "
                                                     "of it trained. Rename it below.")),
        "Started": text("Started", width=95),
        "State": text("State", width=80),
        "Epochs": text("Epochs", width=60),
        "Score": text("Score", width=210,
                      help=ui.worded("The saved model's accuracy: the share of held-out images it puts in the "
                                     "right class, and which images it was measured on.")),
        "Tags": text("Tags", width=90, help="Your own labels for the run; edit them below."),
        "Note": text("Note", width=105, help="What happened to the run, if anything went wrong; in full below "
                                             "when you pick the run."),
    })


def _started(created: float | None) -> str:
    """A start time short enough for the table: "30 Nov 18:45"."""
    return datetime.fromtimestamp(created).strftime("%d %b %H:%M") if created else ""


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
    measure = st.selectbox("Measure", list(CURVES), format_func=lambda m: ui.worded(CURVES[m]),
                           help=ui.worded("Held-out images (validation images, or every image scored by a "
                                          "cross-validation model that did not train on it) show real quality; "
                                          "training images do not."))
    curves = pd.concat([pd.DataFrame(history(RunDir(p))).assign(run=ui.plot_safe(by_path[p]["title"]))
                        for p in chosen])
    fig = px.line(curves, x="epoch", y=measure, color="run", markers=True, title=ui.worded(CURVES[measure]))
    if "loss" not in measure:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    st.plotly_chart(fig.update_layout(height=360, margin=dict(t=40, b=10), yaxis_title=""), key="compare_curves")
    st.dataframe(pd.DataFrame({by_path[p]["title"]: _facts(RunDir(p)) for p in chosen}))


def _facts(run: RunDir) -> dict:
    """The settings and the saved model's scores of a run, as rows of a side-by-side table; precision,
    recall and F1 come from the images its score names, as on Evaluate (a text run has no image size or
    augmentation)."""
    cfg, metrics = run.record().config, run.metrics()
    images = {} if ui.model_kind(cfg.model) == "text" else {"Augmentation": cfg.augment,
                                                  "Image size": str(cfg.image_size or "model's own")}
    held = metrics.split(metrics.score.split) if metrics else None
    percent = lambda v: f"{v:.1%}" if isinstance(v, float) else "–"
    return {
        "Model": model_title(cfg.model), "Stages trained": str(cfg.trainable_stages),
        "Epochs": str(cfg.epochs), **images, "Learning rate": f"{cfg.lr:g}",
        "Score": metrics.score.sentence() if metrics else "–",
        "Precision": percent(held.precision_macro if held else None),
        "Recall": percent(held.recall_macro if held else None), "F1 score": percent(held.f1_macro if held else None),
        "State": ui.state_text(run.status().state),
    }


SETTINGS = {  # config key -> plain name, for the differences table
    "model": "Model", "trainable_stages": "Stages trained", "epochs": "Epochs", "augment": "Augmentation",
    "lr": "Learning rate", "image_size": "Image size", "batch_size": "Batch size", "seed": "Seed",
    "data": "Images", "weights": "Starting weights", "init_from": "Started from run",
}
SCORES = {"accuracy": "Accuracy", "precision_macro": "Precision", "recall_macro": "Recall", "f1_macro": "F1 score"}
SPLITS = {"val": "validation images", "cv": "cross-validation", "test": "test images"}


def _diff(by_path: dict[str, dict]) -> None:
    st.subheader("Compare two runs", help="What was set differently, and how each one scored.")
    paths = [p for p, r in by_path.items() if r["state"] != DAMAGED]
    if len(paths) < 2:
        st.caption("Two runs can be compared once there are two.")
        return
    left, right = st.columns(2)
    a = left.selectbox("First run", paths, index=0, key="diff_a", format_func=lambda p: _label(by_path[p]))
    b = right.selectbox("Second run", paths, index=1, key="diff_b", format_func=lambda p: _label(by_path[p]))
    if a == b:
        st.caption("Pick two different runs.")
        return
    na, nb = by_path[a]["title"], by_path[b]["title"]
    d = diff(RunDir(a), RunDir(b))
    if d["settings"]:
        st.markdown("**Settings that differ**")
        st.dataframe(pd.DataFrame([{
            "Setting": ui.worded(SETTINGS.get(r["setting"], r["setting"].replace("_", " ").capitalize())),
            na: _plain(r["a"]), nb: _plain(r["b"]),
        } for r in d["settings"]]), hide_index=True)
    else:
        st.caption("Both runs used the same settings.")
    if d["metrics"]:
        st.markdown("**Scores**")
        st.dataframe(pd.DataFrame([{"Score": _score_name(r["metric"]), na: _shown(r["a"]), nb: _shown(r["b"])}
                                   for r in d["metrics"]]), hide_index=True)
    else:
        st.caption("Scores appear once both runs have finished.")


def _plain(value) -> str:
    return "–" if value is None or value == "" else str(value)


def _shown(value) -> str:
    if isinstance(value, Score):
        return value.sentence()
    return f"{value:.1%}" if isinstance(value, (int, float)) else "–"


def _score_name(metric: str) -> str:
    if metric == "score":
        return "The saved model's score"
    split, _, name = metric.partition(" ")
    return ui.worded(f"{SCORES.get(name, name)} on {SPLITS.get(split, split)}")


def _pick(path: str) -> None:
    st.session_state["runs_pick"] = path


def _actions(by_path: dict[str, dict]) -> None:
    st.subheader("Open, label or repeat a run")
    path = st.selectbox("Run", list(by_path), format_func=lambda p: _label(by_path[p]), key="runs_pick",
                        help="Newest first.")
    row = by_path[path]
    damaged = row["state"] == DAMAGED
    note = row.get("error") or row["message"]
    st.caption(f"Started {ui.when(row['created'])}" + (f" · {ui.md_safe(note)}" if note else ""))
    left, middle, right = st.columns(3)
    if left.button("Open in Evaluate", disabled=damaged or not is_trained(path),
                   help="See its scores, mistakes and advice (once it has finished); Use & export then uses it too."):
        st.session_state[ui.RUN] = path
        ui.pick(path)
        st.switch_page(ui.page("evaluate"))
    if middle.button("Show on the Train page", disabled=damaged, help="Make it the current run and watch its charts."):
        st.session_state[ui.RUN] = path
        st.switch_page(ui.page("train"))
    if right.button("Train again with the same settings", disabled=damaged, help=ui.worded("A new run with exactly this run's "
                    "settings, on the same images; with the same seed it gives the same result.")):
        run, cfg = rerun(path)
        ss = st.session_state
        ss[ui.RUN], ss[ui.MODEL], ss[ui.INIT_FROM] = str(run.path), cfg.model, cfg.init_from
        if ui.dataset_summary(cfg.data):
            ss[ui.DATASET] = cfg.data
        st.switch_page(ui.page("train"))
    _family(path, by_path)
    _rename(path, row["title"])
    _tags(path, row["title"])
    _delete(path, row["title"])


def _family(path: str, by_path: dict[str, dict]) -> None:
    """Buttons that select this run's parent and children (runs trained again from it)."""
    parent = by_path[path].get("parent") or ""
    children = [p for p, r in by_path.items() if r.get("parent") == path]
    if not parent and not children:
        return
    cols = st.columns(len(children) + bool(parent))
    if parent:
        if parent in by_path:
            cols[0].button(f"Made from {ui.md_safe(by_path[parent]['title'])}", key="family_parent", on_click=_pick, args=(parent,),
                           icon=":material/arrow_upward:", help="Select the run this one was trained again from.")
        else:
            cols[0].caption(f"Made from {ui.md_safe(Path(parent).name)} (deleted)")
    for i, child in enumerate(children, start=bool(parent)):
        cols[i].button(f"Trained again as {ui.md_safe(by_path[child]['title'])}", key=f"family_{i}", on_click=_pick,
                       args=(child,), icon=":material/arrow_downward:",
                       help="Select a run made from this one.")


def _rename(path: str, shown: str) -> None:
    run = RunDir(path)
    text = st.text_input("Name", value=shown, key=f"title_{run.name}", max_chars=TITLE_CHARS,
                         help=ui.worded("A name you choose for this run; it shows in every list of runs. "
                                        "Empty: the name made from its images, model and strategy."))
    if st.button("Save name", icon=":material/edit:") and text.strip() != shown:
        run.set_title(text)
        ui.done("Name saved." if run.title() else "The run has its name from its settings again.")


def _tags(path: str, title: str) -> None:
    run = RunDir(path)
    text = st.text_input("Tags", value=", ".join(run.tags()), key=f"tags_{run.name}",
                         placeholder="e.g. baseline, good, for the demo",
                         help="Your own labels for this run, separated by commas. They show in the table.")
    if st.button("Save tags", icon=":material/sell:"):
        run.set_tags(text.split(","))
        ui.done(f"Tags of run {title} saved.")


def _delete(path: str, name: str) -> None:
    with st.expander("Delete this run", icon=":material/delete:"):
        sure = st.checkbox(f"Yes, delete run {ui.md_safe(name)} for good", key=f"delete_sure_{Path(path).name}",
                           help="Its folder, model and scores are removed; this cannot be undone.")
        if st.button("Delete this run", disabled=not sure, type="primary"):
            delete_run(RunDir(path))
            ss = st.session_state
            for key in (ui.RUN, ui.PICKED):
                if ss.get(key) == path:
                    ss[key] = ""
            for key in ("runs_pick", "diff_a", "diff_b"):
                ss.pop(key, None)
            ui.done(f"Run {name} deleted.")


if __name__ == "__main__":
    render()
