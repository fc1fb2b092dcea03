"""Train: start a run, then watch it learn; the run lives in its own process and folder."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import streamlit as st

from pages import charts, ui
from pages.choices import build_config
from tlcore.studio import (AUTO, DEFAULT_MODEL, MOST_ACCURATE, RunDir, RunRecord, TLError, TrainConfig, class_history,
                           config_of, device_slots, device_words, get_spec, gpu_name, image_size_for, plan,
                           recipe_costs, refuse_outside_workspace, resolve_device, title_of)
from tlcore.studio import history as run_history, progress as run_progress, resume as resume_run, start as start_plan

POLL_SECONDS = 1.5
ALL_DEVICES = ui.OPT + "all_devices"
STOPPING = "Stopping: finishing the current step…"  # before the run reports its first step


def render() -> None:
    st.title("Train")
    if not ui.guard(ui.DATASET):
        return
    path = st.session_state.get(ui.RUN)
    shown = bool(path) and RunDir(path).exists()
    with ui.friendly_errors():
        _start(build_config(), shown)
    if shown:
        st.divider()
        active = RunDir(path).status().active
        st.fragment(run_every=POLL_SECONDS if active else None)(_live)(path, active)


def stages_words(stages: int | str, total: int, title: str, recipe: str = AUTO) -> str:
    """How much of the network a run trains, in words."""
    if recipe == MOST_ACCURATE:
        named = recipe_costs(DEFAULT_MODEL)[MOST_ACCURATE]["title"]  # its members, whatever model was picked
        return f"the {named[0].lower()}{named[1:]} (only a new final layer learns)"
    if stages == "auto":
        return f"fine-tunes as many stages of {title} as recommended (decided when it starts)"
    if stages == "all" or (total and int(stages) >= total):
        return f"fine-tunes the whole {title} network"
    if int(stages) == 0:
        return f"keeps {title} as it is and trains only a new last layer"
    return f"fine-tunes the last {int(stages)} of {total} stages of {title}"


def describe_run(record: RunRecord) -> str:
    """One sentence on what a run trains, from its own record (not the settings now on Strategy)."""
    cfg = record.config
    try:
        spec = get_spec(cfg.model)
        kind = "cuda" if cfg.device != "cpu" and record.environment.get("cuda") else "cpu"
        title, total, size = spec.title, len(spec.stages), image_size_for(cfg, kind)
        tokens = spec.max_tokens if spec.kind == "text" else 0
    except TLError:  # a model this studio no longer lists
        title, total, size, tokens = ui.md_safe(cfg.model), 0, cfg.image_size, 0
    epochs = f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)}" if cfg.epochs else "the recommended number of epochs"
    return (f"**This run:** {stages_words(cfg.trainable_stages, total, title, cfg.recipe)}, {epochs}, "
            f"{reads_words(tokens, size)}, "
            f"{device_words(cfg.device, record.environment.get('cuda'))}{_processes(cfg)}.")


def reads_words(tokens: int, size: int) -> str:
    """What a run reads: texts up to ``tokens`` tokens (a text model), else images at ``size`` pixels."""
    if tokens:
        return f"texts read up to {tokens} tokens"
    return f"images at {size} pixels" if size else "images at the model's own size"


def _spread_choice(cfg: TrainConfig) -> TrainConfig:
    """Where the device pool has several slots (a computer with several graphics cards), the
    choice to train this run on all the free ones at once."""
    kind = resolve_device(cfg.device).type
    slots, free = device_slots(kind)
    if slots < 2:
        return cfg
    what = "graphics cards" if kind == "cuda" else "processor slots"
    every = st.checkbox(f"Train this run on all {free} free {what} at once", key=ALL_DEVICES, disabled=free < 2,
                        help="One run split over several devices (PyTorch DistributedDataParallel): each takes "
                             "a share of every batch. Without it, each run takes one and runs go side by side.")
    return cfg.with_(world_size=free) if every and free > 1 else cfg


def _processes(cfg: TrainConfig) -> str:
    return f", on {cfg.world_size} processes at once" if cfg.world_size > 1 else ""


def _start(cfg: TrainConfig, run_shown: bool) -> None:
    """What the next run will do, from its Plan (the one Strategy shows and the run records), and Start."""
    cfg = _spread_choice(cfg)
    decided = plan(cfg)
    spec, will = get_spec(cfg.model), decided.config
    summary = ui.dataset_summary(cfg.data) or {"name": cfg.data}
    start = f", continuing run {ui.md_safe(title_of(RunDir(cfg.init_from)))}" if cfg.init_from else ""
    st.markdown(("**Next run:** " if run_shown else "") + f"**{ui.md_safe(summary['name'])}**{start}: "
                + f"{stages_words(will.trainable_stages, len(spec.stages), spec.title, will.recipe)}, "
                  f"**{will.epochs}** epochs, "
                + reads_words(spec.max_tokens if spec.kind == "text" else 0, will.image_size)
                + ("" if spec.kind == "text" else
                   f", augmentation {'as recommended' if cfg.augment == 'auto' else cfg.augment}") + ", "
                + f"{device_words(cfg.device, gpu_name())}{_processes(cfg)}.")
    took = decided.estimate()
    st.caption(f"It should take {took.words()} on this computer ({took.basis()}).")
    st.page_link(ui.page("strategy"), label="Change these settings", icon=":material/tune:")
    path = st.session_state.get(ui.RUN)
    busy = bool(path) and RunDir(path).status().active
    label = "Start another run (it waits for the current one)" if busy else "Start training"
    if st.button(label, type="primary", help="Training runs in the background: you can close this tab and "
                 "come back; the run keeps going and shows up here and on the Runs page."):
        refuse_outside_workspace(cfg)
        run = start_plan(decided)
        st.session_state[ui.RUN] = str(run.path)
        st.rerun()


def _live(path: str, was_active: bool) -> None:
    with ui.friendly_errors():
        run = RunDir(path)
        status = run.status()
        state = status.state
        stopping = state in ui.ACTIVE and run.cancel_requested()
        st.subheader(f"Run {ui.md_safe(title_of(run))}: {'Stopping' if stopping else ui.state_text(state)}")
        try:
            record = run.record()
            st.markdown(describe_run(record))
        except TLError:
            record = None  # a damaged record: the status below says what is known
        # Worded by the run's kind, not the current dataset's (unknown from a damaged record: the dataset's).
        texts = ui.model_kind(record.config.model) == "text" if record else ui.is_text(st.session_state.get(ui.DATASET))
        progress = (run_progress(run) or {}) if state in ui.ACTIVE else None
        if progress is not None:
            _progress(run, status.message, progress, texts)
        elif state in ("failed", "damaged"):
            st.error(ui.md_safe(status.error or "The run failed."), icon=":material/error:")
        elif state == "interrupted":
            st.warning(ui.md_safe(status.error), icon=":material/warning:")
            if st.button("Resume the run", help="Continue from the last saved epoch."):
                refuse_outside_workspace(config_of(run))
                resume_run(run)
                st.rerun()
        else:
            done = "Training finished and the model is saved." if state == "finished" else status.message
            st.success(ui.md_safe(done or ui.state_text(state)), icon=":material/check_circle:")
            metrics = run.metrics() if ui.is_trained(path) else None
            if metrics:
                st.markdown(f"**Score of the saved model:** {metrics.score.sentence()}.")
                if st.button("See how good it is", icon=":material/arrow_forward:",
                             help="Open this run's model on Evaluate; Use & export then uses it too."):
                    ui.pick(path)
                    st.switch_page(ui.page("evaluate"))
        _charts(run, progress, texts)
        if was_active and state not in ui.ACTIVE:
            st.rerun()


def _progress(run: RunDir, message: str, progress: dict, texts: bool) -> None:
    """The bar of the whole run, through every phase, with what the run does now; and Stop, or
    what a Stop asked waits for. ``texts``: the run reads texts."""
    parts = [ui.md_safe(message or "Starting")]
    if progress.get("images_per_second"):
        parts.append(ui.worded(f"{progress['images_per_second']:.0f} images/s", texts))
    if progress.get("eta_seconds") is not None:
        step = "" if progress.get("phase") == "train" else " in this step"
        parts.append(f"about {ui.duration(progress['eta_seconds'])} left{step}")
    st.progress(float(progress.get("fraction") or 0.0), text=" · ".join(parts))
    if run.cancel_requested():
        st.caption(ui.md_safe(message) if (message or "").startswith("Stopping")
                   else progress.get("stopping") or STOPPING)
    else:
        st.button("Stop", on_click=run.request_cancel,
                  help="Stop within seconds: after the first epoch the best model so far is kept; "
                       "before it, nothing is saved.")


def _charts(run: RunDir, progress: dict | None, texts: bool) -> None:
    """The curves of the epochs so far; while a run has none, when they come (``progress``: the
    active run's, else None; ``texts`` as for ``_progress``)."""
    rows = run_history(run)
    if not rows:
        if progress is not None:
            doing = progress.get("doing")
            now = f" Now: {doing[0].lower()}{doing[1:]}." if doing and progress.get("phase") != "train" else ""
            st.caption(f"The charts follow the final model's training and appear after its first epoch.{now}")
        return
    if rows[-1]["held_out"] == "cv":
        st.caption(ui.worded("Training images are the ones the model learns from. Cross-validated: every image "
                             "scored by a model trained without it, so the line shows how the model does on new "
                             "images. Epoch numbers on these charts are the training's; the saved model's score "
                             "is on Evaluate.", texts))
    else:
        st.caption(ui.worded("Training images are the ones the model learns from; validation images are kept aside "
                             "to check it. When the two lines drift apart, the model is memorising instead of "
                             "learning. The saved model's score is on Evaluate.", texts))
    for metrics in (("loss", "accuracy"), ("precision", "recall")):
        for column, metric in zip(st.columns(2), metrics):
            column.plotly_chart(charts.curves_figure(rows, metric, texts), key=f"curve_{metric}")
            column.caption(ui.worded(charts.METRICS[metric][1], texts))
    per_class = class_history(run)
    if per_class:
        st.plotly_chart(charts.class_recall_figure(per_class, texts), key="curve_per_class")


if __name__ == "__main__":
    render()
