"""What every page shares: session-state keys, guards, friendly errors, the sidebar and curve charts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import streamlit as st

from pages.nav import page
from tlcore.studio import (ACTIVE, DAMAGED, DEFAULT_MODEL, TEXT_MODEL, RunDir, Score, TLError, escape, get_spec,
                           in_texts, is_trained, keep_picked, model_of_run, newest_active_run, picked_run as kept_pick, picture,
                           progress, plot_text, run_config, run_named, run_score, tidy_workspace, title_of,
                           trained_runs, writable_workspace)
from tlcore.studio import dataset_summary as stored_summary, summary as run_summary

# Session-state keys: the user's choices so far.
DATASET = "dataset"  # folder of the stored dataset (what TrainConfig.data gets)
MODEL = "model"  # catalog name
INIT_FROM = "init_from"  # folder of an earlier run to start from, or ""
RUN = "run"  # folder of the current run, or ""
FLASH = "flash"  # a success message to show once, after a rerun
PICKED = "picked"  # folder of the run whose model was picked last on Evaluate, Use or Runs
OPT = "opt_"  # prefix of settings widgets whose values must survive page changes
WEIGHTS_FILES = "weights_files"  # model name -> path of a weights file the user uploaded on the Model page

STATE_TEXT = {  # a run's state in the words every page and the sidebar use
    "queued": "Waiting to start", "running": "Training", "finished": "Finished",
    "cancelled": "Stopped", "failed": "Failed", "interrupted": "Interrupted", "damaged": "Damaged record",
}
THUMB_PX = 96
IMAGE_TYPES = ["jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp", "heic", "heif"]
_NEEDS = {DATASET: ("data", "Data", "First bring your labelled images on the Data page.")}
GENERIC_ERROR = ("Something went wrong on this page. Please try again; if it keeps happening, "
                 "the details are in the studio's log.")
_log = logging.getLogger("studio")
# Every user-provided string (names of datasets, classes, runs, files; tags; engine messages that
# quote them) passes through md_safe where it meets Markdown, so it shows as written.
md_safe = escape
plot_safe = plot_text  # the same for plotly's labels, which draw <a href> and <b>


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a TLError's message as it is, and any other error as a plain sentence (logged)."""
    try:
        yield
    except TLError as e:  # engine messages quote names and paths the user gave
        st.error(md_safe(str(e)), icon=":material/error:")
    except Exception:
        _log.exception("Unexpected error in the studio")
        st.error(GENERIC_ERROR, icon=":material/error:")


def workspace_ready() -> bool:
    """Whether the studio's folder can be written (tidied once per server: see tidy_workspace);
    otherwise one line saying what is wrong with it and how to choose another."""
    try:
        _tidied(str(writable_workspace()))
    except TLError as e:
        st.error(md_safe(str(e)), icon=":material/error:")
        return False
    return True


@st.cache_resource(show_spinner=False)
def _tidied(workspace: str) -> bool:
    tidy_workspace()
    return True


def guard(*needs: str) -> bool:
    """True when the earlier steps ``needs`` are done; otherwise say which, with a link."""
    missing = [n for n in needs if not st.session_state.get(n)]
    for need in missing:
        name, title, text = _NEEDS[need]
        st.info(text, icon=":material/info:")
        st.page_link(page(name), label=f"Go to {title}", icon=":material/arrow_forward:")
    return not missing


def done(message: str) -> None:
    """Remember a success message (plain text) and rerun, so the sidebar shows the new state at once."""
    st.session_state[FLASH] = message
    st.rerun()


def show_flash() -> None:
    """The message left by ``done``, once."""
    if message := st.session_state.pop(FLASH, None):
        st.success(md_safe(message), icon=":material/check_circle:")


def keep_settings() -> None:
    """Streamlit forgets the values of widgets on pages not shown; store them again so the
    user's settings survive a page change."""
    for key in [k for k in st.session_state if k.startswith(OPT)]:
        st.session_state[key] = st.session_state[key]


def synced_selectbox(label: str, options: Sequence, state_key: str, key: str,
                     format_func: Callable = str, help: str | None = None):
    """A selectbox that shows ``st.session_state[state_key]`` when it is one of the options,
    and writes the user's pick back to it."""
    ss = st.session_state
    if ss.get(state_key) in options:
        ss[key] = ss[state_key]
    elif ss.get(key) not in options:
        ss[key] = options[0]

    def picked() -> None:
        ss[state_key] = ss[key]

    return st.selectbox(label, options, key=key, format_func=format_func, help=help, on_change=picked)


def when(value) -> str:
    """A timestamp (seconds or ISO text) as a short local date and time."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M")
    return str(value or "")[:16].replace("T", " ")


def duration(seconds: float | None) -> str:
    """A rough time span for people: "40 s", "3 min", "1.5 h"."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


@st.cache_data(show_spinner=False, max_entries=64)
def dataset_summary(folder: str) -> dict | None:
    """Name, class count and image count of a stored dataset, or None if it cannot be opened."""
    return stored_summary(folder)


def is_text(folder: str | None) -> bool:
    """Whether ``folder`` is a stored text dataset (every page follows the kind of the current dataset)."""
    summary = dataset_summary(folder) if folder else None
    return bool(summary) and summary.get("kind") == "text"


def model_kind(model: str | None) -> str:
    """What a run's model reads ("image" or "text"); "image" for a model this studio no longer lists."""
    try:
        return get_spec(model).kind
    except TLError:
        return "image"


def worded(sentence: str, texts: bool | None = None) -> str:
    """A sentence the studio words for images, worded for texts when ``texts`` (by default: when the
    current dataset holds texts)."""
    texts = is_text(st.session_state.get(DATASET)) if texts is None else texts
    return in_texts(sentence) if texts else sentence


@st.cache_data(show_spinner=False, max_entries=2000)
def thumbnail(path: str):
    """A small RGB preview of an image file (decoded at reduced size), or None if it cannot be read."""
    img = picture(path, THUMB_PX)
    if img is None:
        return None
    img.thumbnail((THUMB_PX, THUMB_PX))
    return img


def state_text(state: str) -> str:
    """A run's state as every page and the sidebar word it: "Stopped" for a cancelled run."""
    return STATE_TEXT.get(state, state)


def score_text(score: Score | None) -> str:
    """A model's one score for a label: "72% (40 test images)"."""
    return f"{score.accuracy:.0%} ({score.where})" if score else "no score yet"


def _recovered_run() -> str:
    """The run this tab showed before a reload (named in its address), else the newest active run."""
    return run_named(st.query_params.get("run", "")) or newest_active_run()


def recover() -> None:
    """Fill in defaults; after a reload, pick up the current run again (and its dataset and model)."""
    ss = st.session_state
    if RUN not in ss:
        ss[RUN] = _recovered_run()
        if ss[RUN]:
            cfg = run_config(ss[RUN])
            if cfg and not ss.get(DATASET) and dataset_summary(cfg.data):
                ss[DATASET] = cfg.data
            ss.setdefault(MODEL, cfg.model if cfg else DEFAULT_MODEL)
    if ss[RUN]:  # kept in the address, so a reload of this tab finds its own run
        st.query_params["run"] = Path(ss[RUN]).name
    ss.setdefault(MODEL, DEFAULT_MODEL)
    if is_text(ss.get(DATASET)):  # texts train a sentence encoder (the bundled one unless picked); images never do
        if get_spec(ss[MODEL]).kind != "text":
            ss[MODEL] = TEXT_MODEL
    elif get_spec(ss[MODEL]).kind == "text":
        ss[MODEL] = DEFAULT_MODEL
    if not (ss.get(INIT_FROM) and is_trained(ss[INIT_FROM])):  # e.g. that run's folder was deleted
        ss[INIT_FROM] = ""
    if ss[INIT_FROM]:  # a run to continue from decides the model
        ss[MODEL] = model_of_run(ss[INIT_FROM])


def sidebar() -> None:
    """Where the user is: dataset, model and run, always visible."""
    recover()
    ss = st.session_state
    with st.sidebar:
        st.markdown("#### Where you are")
        summary = dataset_summary(ss[DATASET]) if ss.get(DATASET) else None
        unit = "texts" if summary and summary.get("kind") == "text" else "images"
        st.markdown(f"**{unit.capitalize()}:** {md_safe(summary['name'])} ({summary['classes']} classes, "
                    f"{summary['images']} {unit})" if summary else "**Images:** none yet")
        start = f" (starting from run {md_safe(title_of(RunDir(ss[INIT_FROM])))})" if ss.get(INIT_FROM) else ""
        st.markdown(f"**Model:** {get_spec(ss[MODEL]).title}{start}")
        if ss.get(RUN):
            active = RunDir(ss[RUN]).status().active
            st.fragment(run_every=2.0 if active else None)(_run_line)(ss[RUN], active)
        else:
            st.markdown("**Run:** none yet")


def _run_line(path: str, was_active: bool) -> None:
    with friendly_errors():
        run = RunDir(path)
        state = run.status().state
        line = f"**Run:** {md_safe(title_of(run))} — {state_text(state)}"
        now = progress(run) if state in ACTIVE else None
        if now and now.get("fraction") is not None:
            line += f" ({now['fraction']:.0%})"
        elif state not in ACTIVE and (score := run_score(run)):  # as the Runs table and Evaluate show it
            line += f" · {score_text(score)}"
        st.markdown(line)
        if was_active and state not in ACTIVE:
            st.rerun()


def picked_run() -> str:
    """The folder of the run whose model was picked last on Evaluate, Use or Runs: this session's,
    else the one kept in the workspace (so a reload keeps it); "" when none."""
    ss = st.session_state
    if PICKED not in ss:
        ss[PICKED] = kept_pick()
    return ss[PICKED]


def pick(path: str) -> None:
    """Make ``path``'s model the one Evaluate and Use show, now and after a reload."""
    if picked_run() == path:
        return
    st.session_state[PICKED] = path
    try:
        keep_picked(path)
    except (OSError, TLError) as e:  # keeping it is a convenience: never break the page for it
        _log.warning("Could not keep the picked model: %s", e)


def _fallback(rows: dict[str, dict]) -> str:
    """The model to show when none was picked: the current run's if it finished, else the newest
    finished one (never a stopped one while a finished one is there), else the newest."""
    current = st.session_state.get(RUN)
    if current in rows and rows[current]["state"] == "finished":
        return current
    return next((p for p, r in rows.items() if r["state"] == "finished"), next(iter(rows)))


def pick_trained_run(where: str) -> RunDir | None:
    """A selectbox of trained runs showing the model picked last (``picked_run``), else ``_fallback``'s;
    a newer model is named beside it, never switched to. None, with a hint, if there are none."""
    ss = st.session_state
    rows = {str(r["path"]): r for r in trained_runs()}
    current = ss.get(RUN)
    if current and current not in rows and is_trained(current):
        row = run_summary(RunDir(current))
        if row["state"] != DAMAGED:
            rows = {current: row, **rows}
    if not rows:
        st.info("There is no trained model yet. Train one first; it appears here when it has finished.",
                icon=":material/info:")
        st.page_link(page("train"), label="Go to Train", icon=":material/arrow_forward:")
        return None

    def label(path: str) -> str:
        r = rows[path]  # its readable name says images, model and strategy
        state = "" if r["state"] == "finished" else f" · {state_text(r['state'])}"
        return f"{r.get('title') or r['name']} · {score_text(r.get('score'))}{state}"

    key, gone = f"pick_run_{where}", picked_run() not in rows
    ss[key] = _fallback(rows) if gone else picked_run()

    def chosen() -> None:
        ss[RUN] = ss[key]
        pick(ss[key])

    path = st.selectbox("Trained model", list(rows), key=key, format_func=label, on_change=chosen,
                        help="Which training run's model to use here and on the other pages. Newest first.")
    if gone and picked_run():
        st.caption("The model picked before is no longer there (its run was deleted or damaged).")
    pick(path)
    newer = [p for p, r in rows.items() if (r["created"] or 0) > (rows[path]["created"] or 0)]
    if newer:
        newest = max(newer, key=lambda p: rows[p]["created"] or 0)
        more = f" and {len(newer) - 1} more" if len(newer) > 1 else ""
        st.caption(f"A newer model is not used unless you pick it above: {md_safe(label(newest))}{more}.")
    return RunDir(path)
