"""Train: start a run, then watch it learn; the run lives in its own process and folder."""

from __future__ import annotations

import streamlit as st

from pages import charts, ui
from pages.strategy import build_config
from tlcore import runs
from tlcore.catalog import get_spec
from tlcore.config import TrainConfig
from tlcore.rundir import RunDir

POLL_SECONDS = 1.5
DEVICE_TEXT = {"auto": "on the graphics card if there is one", "cpu": "on the processor (CPU)",
               "cuda": "on the graphics card (GPU)"}
STATE_TEXT = {
    "queued": "Waiting to start", "running": "Training", "finished": "Finished",
    "cancelled": "Stopped", "failed": "Failed", "interrupted": "Interrupted", "damaged": "Damaged record",
}


def render() -> None:
    st.title("Train")
    if not ui.guard(ui.DATASET):
        return
    with ui.friendly_errors():
        _start(build_config())
    path = st.session_state.get(ui.RUN)
    if path and RunDir(path).exists():
        st.divider()
        active = RunDir(path).status().active
        st.fragment(run_every=POLL_SECONDS if active else None)(_live)(path, active)


def _start(cfg: TrainConfig) -> None:
    spec = get_spec(cfg.model)
    summary = ui.dataset_summary(cfg.data) or {"name": cfg.data}
    st.markdown(f"**{ui.md_safe(summary['name'])}** on **{spec.title}**"
                + (f", continuing run {ui.md_safe(RunDir(cfg.init_from).name)}" if cfg.init_from else "")
                + f": train the last **{cfg.trainable_stages}** of {len(spec.stages)} stages for "
                  f"**{cfg.epochs}** epochs, images at {cfg.image_size or spec.image_size} pixels, "
                  f"augmentation {'as recommended' if cfg.augment == 'auto' else cfg.augment}, "
                  f"{DEVICE_TEXT[cfg.device]}.")
    st.page_link(ui.page("strategy"), label="Change these settings", icon=":material/tune:")
    path = st.session_state.get(ui.RUN)
    busy = bool(path) and RunDir(path).status().active
    label = "Start another run (it waits for the current one)" if busy else "Start training"
    if st.button(label, type="primary", help="Training runs in the background: you can close this tab and "
                 "come back; the run keeps going and shows up here and on the Runs page."):
        ui.refuse_outside_workspace(cfg)
        run = runs.start_run(cfg)
        st.session_state[ui.RUN] = str(run.path)
        st.rerun()


def _live(path: str, was_active: bool) -> None:
    with ui.friendly_errors():
        run = RunDir(path)
        status = run.status()
        state = status.state
        st.subheader(f"Run {ui.md_safe(run.name)}: {STATE_TEXT.get(state, state)}")
        if state in ui.ACTIVE:
            _progress(run, status.message)
        elif state in ("failed", "damaged"):
            st.error(ui.md_safe(status.error or "The run failed."), icon=":material/error:")
        elif state == "interrupted":
            st.warning(ui.md_safe(status.error), icon=":material/warning:")
            if st.button("Resume the run", help="Continue from the last saved epoch."):
                ui.refuse_outside_workspace(runs.config_of(run))
                runs.resume(run)
                st.rerun()
        else:
            done = "Training finished and the model is saved." if state == "finished" else status.message
            st.success(ui.md_safe(done or STATE_TEXT[state]), icon=":material/check_circle:")
            metrics = run.metrics() if ui.is_trained(path) else None
            if metrics:
                st.markdown(f"**Score of the saved model:** {metrics.score.sentence()}.")
                st.page_link(ui.page("evaluate"), label="See how good it is", icon=":material/arrow_forward:")
        _charts(run)
        if was_active and state not in ui.ACTIVE:
            st.rerun()


def _progress(run: RunDir, message: str) -> None:
    progress = runs.progress(run) or {}
    parts = [ui.md_safe(message or "Starting")]
    if progress.get("images_per_second"):
        parts.append(f"{progress['images_per_second']:.0f} images/s")
    if progress.get("eta_seconds") is not None:
        parts.append(f"about {ui.duration(progress['eta_seconds'])} left")
    st.progress(float(progress.get("fraction") or 0.0), text=" · ".join(parts))
    if run.cancel_requested():
        st.caption("Stopping after the current step; the best model so far is kept.")
    else:
        st.button("Stop", on_click=run.request_cancel,
                  help="Stop after the current step and keep the best model so far.")


def _charts(run: RunDir) -> None:
    rows = runs.history(run)
    if not rows:
        st.caption("Charts appear after the first epoch.")
        return
    if rows[-1]["held_out"] == "cv":
        st.caption("Training images are the ones the model learns from. Cross-validated: every image scored by "
                   "a model trained without it, so the line shows how the model does on new images. Epoch "
                   "numbers on these charts are the training's; the saved model's score is on Evaluate.")
    else:
        st.caption("Training images are the ones the model learns from; validation images are kept aside to "
                   "check it. When the two lines drift apart, the model is memorising instead of learning. "
                   "The saved model's score is on Evaluate.")
    for metrics in (("loss", "accuracy"), ("precision", "recall")):
        for column, metric in zip(st.columns(2), metrics):
            column.plotly_chart(charts.curves_figure(rows, metric), key=f"curve_{metric}")
            column.caption(charts.METRICS[metric][1])
    per_class = runs.class_history(run)
    if per_class:
        st.plotly_chart(charts.class_recall_figure(per_class), key="curve_per_class")


if __name__ == "__main__":
    ui.show(render)
