"""Runs: list them, watch one (status, record, scores, progress), start one again, rename, tag
or delete it, and the model picked last on the Evaluate, Use and Runs pages."""

from __future__ import annotations

from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.jobs import pool
from tlcore.jobs.runs import (class_history, config_of, delete_run, diff, history, list_runs, progress, resume,  # noqa: F401
                              start_run, summary, title_of)
from tlcore.training.inputs import image_size_for  # noqa: F401 (offered by the front door: the size a run reads)
from tlcore.jobs.worker import keep_warm
from tlcore.paths import outside_workspace
from tlcore.record import ACTIVE, DAMAGED, RecordError
from tlcore.rundir import RunDir
from tlcore.workspace import load_picked, runs_dir, save_picked, workspace_dir

SETTING_NAMES = {"data": "images", "test_data": "test images", "init_from": "earlier run",
                 "weights": "starting weights"}


def refuse_outside_workspace(cfg: TrainConfig) -> None:
    """Raise a one-line TLError when ``cfg`` reads files outside the workspace: a run record can
    be edited by hand, and the studio must not read whatever it names (the CLI may)."""
    outside = outside_workspace(cfg)
    if outside:
        what = " and ".join(SETTING_NAMES.get(name, name) for name in outside)
        raise TLError(f"Not started: this run reads its {what} from outside the studio's folder {workspace_dir()}; "
                      "the studio only reads files there (python -m tlcore on the command line reads any path).")


def rerun(path: str | Path) -> tuple[RunDir, TrainConfig]:
    """Start a new run with exactly the settings of the run in ``path`` (its child); the new run
    and those settings."""
    cfg = config_of(RunDir(path))
    refuse_outside_workspace(cfg)
    return start_run(cfg, parent=str(path)), cfg


def is_trained(path: str | Path) -> bool:
    """True when the run folder holds a model and its evaluation."""
    return RunDir(path).is_trained()


def trained_runs() -> list[dict]:
    """Runs in the workspace that hold a model, newest first."""
    return [r for r in list_runs() if r["state"] != DAMAGED and is_trained(r["path"])]


def run_config(path: str | Path) -> TrainConfig | None:
    """The settings a run was started with, or None when its record cannot be read."""
    try:
        return RunDir(path).record().config
    except RecordError:
        return None


def run_named(name: str) -> str:
    """The folder of the studio's run called ``name`` (a folder name only, never a path), or ""
    when there is no such run."""
    folder = runs_dir() / Path(name).name
    return str(folder) if name and RunDir(folder).exists() else ""


def newest_active_run() -> str:
    """The folder of the newest run waiting or training, or "" when none is."""
    return next((str(r["path"]) for r in list_runs() if r["state"] in ACTIVE), "")


def run_score(run: RunDir):
    """The saved model's one score of a finished run, or None (damaged scores too: the Runs page says so)."""
    try:
        metrics = run.metrics() if run.is_trained() else None
    except RecordError:
        return None
    return metrics.score if metrics else None


def picked_run() -> str:
    """The folder of the run whose model was picked last, kept in the workspace; "" when none."""
    name = load_picked()
    return str(runs_dir() / name) if name else ""


def keep_picked(path: str | Path) -> None:
    """Keep ``path``'s run as the one picked last, for the next visit."""
    save_picked(Path(path).name)


def device_slots(kind: str) -> tuple[int, int]:
    """The device pool's slots of ``kind`` ("cuda" or "cpu"): how many there are, and how many are free."""
    return len(pool.slots(kind)), pool.free(kind)
