"""Runs in the workspace: starting them, listing them, and reading their curves, progress and
scores through the run directory (the only place a run's state lives)."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

from tlcore.models.catalog import get_spec
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.record import ACTIVE, DAMAGED, RecordError, RunRecord, SPLITS
from tlcore.rundir import RunDir
from tlcore.training.progress import PHASES, fraction, read_progress, stopping_words
from tlcore.jobs.plan import Plan
from tlcore.jobs.train import create_run
from tlcore.jobs.worker import launch
from tlcore.workspace import runs_dir

STILL_TRAINING = "Run {title} is still training; stop it before deleting it."


def start_run(cfg: TrainConfig, parent: str = "", plan: Plan | None = None) -> RunDir:
    """Create a run folder in the workspace and start its worker process (on ``plan``, when it was
    decided before: tlcore.jobs.train.create_run)."""
    base = runs_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}"
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    run = create_run(cfg, path, parent=parent, plan=plan)
    launch(run.path)
    return run


def config_of(run: RunDir) -> TrainConfig:
    """The settings a run actually used (the recommender's choices filled in): its record."""
    return run.record().config


def resume(run: RunDir) -> int:
    """Restart an interrupted or cancelled run's worker; it continues from its checkpoint."""
    return launch(run.path)


def history(run: RunDir) -> list[dict]:
    """One row per finished epoch with training and held-out loss, accuracy, precision, recall."""
    rows = []
    for e in run.epochs():
        row = {"epoch": e.epoch, "seconds": e.seconds, "images_per_second": e.images_per_second,
               "held_out": e.held_out}
        for split, m in (("train", e.train), ("val", e.val)):
            row.update({f"{split}_loss": m.loss, f"{split}_accuracy": m.accuracy,
                        f"{split}_precision": m.precision_macro, f"{split}_recall": m.recall_macro,
                        f"{split}_f1": m.f1_macro})
        rows.append(row)
    return rows


def class_history(run: RunDir) -> list[dict]:
    """Held-out precision and recall of every class after every epoch."""
    return [{"epoch": e.epoch, "class": c, "precision": s["precision"], "recall": s["recall"]}
            for e in run.epochs() for c, s in e.val.per_class.items()]


def progress(run: RunDir) -> dict | None:
    """The latest progress report (``tlcore.training.progress.Progress``'s fields), with its rate of
    images (``images_per_second``) and time left (``eta_seconds``), ``fraction`` of the whole run
    done (0..1), the phase's words (``doing``) and what a Stop now waits for (``stopping``)."""
    events = run.events()
    event = next((e for e in reversed(events) if e.get("type") == "progress"), None)
    if event is None:
        return None
    latest, done = read_progress(event), run.epochs()
    try:
        planned = run.record().config.epochs
    except RecordError:
        planned = None
    over = latest.done >= latest.total and latest.phase != "train"  # its rate is not news: the run is on to the next
    return {**asdict(latest), "images_per_second": None if over else latest.images_per_second,
            "eta_seconds": latest.seconds_left([e.seconds for e in done], planned),
            "fraction": fraction(events, len(done), planned), "doing": PHASES.get(latest.phase, ("", ""))[0],
            "stopping": stopping_words(latest.phase)}


def _strategy(cfg: TrainConfig) -> str:
    """How much of the network a run trained, in a few words."""
    if cfg.weights == "none":
        return "from scratch"
    try:
        stages = len(get_spec(cfg.model).stages)
    except TLError:
        stages = None
    n = cfg.trainable_stages
    if n == 0:
        return "last layer only"
    if n == "all" or n == stages:
        return "fine-tune all"
    return f"fine-tune last {n}" if isinstance(n, int) else "fine-tune"


def default_title(record: RunRecord) -> str:
    """A run's readable name from its own record: "clipart · Lite0 · last layer only"."""
    cfg = record.config
    try:
        model = get_spec(cfg.model).title.replace("EfficientNet-Lite", "Lite")
    except TLError:
        model = cfg.model
    data = record.dataset.name if record.dataset else Path(cfg.data).name
    return " · ".join(x for x in (data, model, _strategy(cfg)) if x)


def title_of(run: RunDir) -> str:
    """The name of one run as people see it (the user's, else from its record, else its folder's)."""
    try:
        return run.title() or default_title(run.record())
    except RecordError:
        return run.name


def _damaged(run: RunDir, problem: str) -> dict:
    """The runs-table row of a run whose record cannot be read: named, never hidden, never fatal."""
    created = run.config_path.stat().st_mtime if run.config_path.exists() else 0
    return {"name": run.name, "title": run.title() or run.name, "path": str(run.path), "created": created,
            "state": DAMAGED, "message": "",
            "error": problem, "model": None, "dataset": "", "trainable_stages": None, "epochs": None,
            "epochs_done": 0, "score": None, "parent": "", "tags": run.tags()}


def summary(run: RunDir) -> dict:
    """One row for the runs table; a run with a damaged record gets state "damaged". ``name`` is
    the folder's (the run's id), ``title`` the name shown to people: the user's, else one made
    from the record."""
    status = run.status()
    try:
        record = run.record()
        metrics = run.metrics()
    except RecordError as e:
        return _damaged(run, str(e))
    if status.state == DAMAGED:
        return _damaged(run, status.error or "")
    cfg = record.config
    return {
        "name": run.name, "title": run.title() or default_title(record), "path": str(run.path),
        "created": record.created,
        "state": status.state, "message": status.message, "error": status.error,
        "model": cfg.model, "dataset": record.dataset.name if record.dataset else Path(cfg.data).name,
        "trainable_stages": cfg.trainable_stages, "epochs": cfg.epochs, "epochs_done": len(run.epochs()),
        "score": metrics.score if metrics else None, "parent": record.parent, "tags": run.tags(),
    }


def list_runs() -> list[dict]:
    """Every run in the workspace, newest first (damaged ones included, marked as such)."""
    runs = [run for run in map(RunDir, runs_dir().iterdir()) if run.exists()]
    rows = sorted((summary(r) for r in runs), key=lambda s: (s["created"] or 0, s["name"]))
    seen: dict[str, int] = {}
    for row in rows:  # runs with one name are told apart by number, oldest first: "... #2"
        seen[row["title"]] = seen.get(row["title"], 0) + 1
        if seen[row["title"]] > 1:
            row["title"] += f" #{seen[row['title']]}"
    return rows[::-1]


def delete_run(run: RunDir) -> None:
    """Remove a run folder for good; a run that is still training must be stopped first. Its
    worker's lock says whether it is, whatever its status file says or whether it is there."""
    if not run.exists():
        raise TLError(f"{run.path} is not a run folder.")
    if run.worker_alive() or run.status().state in ACTIVE:
        raise TLError(STILL_TRAINING.format(title=title_of(run)))
    shutil.rmtree(run.path)


DIFF_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def diff(a: RunDir, b: RunDir) -> dict:
    """Settings that differ between two runs, and their scores side by side (per split both have)."""
    ca, cb = a.record().config.to_json(), b.record().config.to_json()
    settings = [{"setting": k, "a": ca.get(k), "b": cb.get(k)} for k in sorted(set(ca) | set(cb))
                if ca.get(k) != cb.get(k)]
    ma, mb = a.metrics(), b.metrics()
    metrics = []
    if ma and mb:
        metrics.append({"metric": "score", "a": ma.score, "b": mb.score})
        for split in SPLITS:
            sa, sb = ma.split(split), mb.split(split)
            if sa and sb:
                metrics += [{"metric": f"{split} {m}", "a": getattr(sa, m), "b": getattr(sb, m)}
                            for m in DIFF_METRICS]
    return {"settings": settings, "metrics": metrics}
