"""Runs in the workspace: starting them, listing them, and reading their curves and progress
from the run directory (the only place a run's state lives)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.atomic import atomic_write_json, read_json
from tlcore.rundir import RunDir
from tlcore.train import create_run
from tlcore.worker import launch
from tlcore.workspace import runs_dir


def start_run(cfg: TrainConfig, parent: str = "") -> RunDir:
    """Create a run folder in the workspace and start its worker process."""
    base = runs_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}"
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    run = create_run(cfg, path, parent=parent)
    launch(run.path)
    return run


def config_of(run: RunDir) -> TrainConfig:
    """The settings a run actually used (the recommender's choices filled in): its record."""
    record = run.read_config()
    if not record:
        raise TLError(f"{run.path} is not a run folder (no config.json).")
    return TrainConfig.from_json(record["config"])


def resume(run: RunDir) -> int:
    """Restart an interrupted or cancelled run's worker; it continues from its checkpoint."""
    return launch(run.path)


def _epochs(run: RunDir) -> list[dict]:
    """The last event of each epoch (a resumed run may have written one twice)."""
    by_epoch = {e["epoch"]: e for e in run.events("epoch")}
    return [by_epoch[k] for k in sorted(by_epoch)]


def history(run: RunDir) -> list[dict]:
    """One row per finished epoch with train and validation loss, accuracy, precision, recall."""
    rows = []
    for e in _epochs(run):
        row = {"epoch": e["epoch"], "seconds": e["seconds"], "images_per_second": e["images_per_second"]}
        for split in ("train", "val"):
            m = e[split]
            row.update({f"{split}_loss": m.get("loss"), f"{split}_accuracy": m["accuracy"],
                        f"{split}_precision": m["precision_macro"], f"{split}_recall": m["recall_macro"],
                        f"{split}_f1": m["f1_macro"]})
        rows.append(row)
    return rows


def class_history(run: RunDir) -> list[dict]:
    """Validation precision and recall of every class after every epoch."""
    return [{"epoch": e["epoch"], "class": c, "precision": s["precision"], "recall": s["recall"]}
            for e in _epochs(run) for c, s in e["val"]["per_class"].items()]


def progress(run: RunDir) -> dict | None:
    """The latest progress report, with ``fraction`` of the whole run done (0..1)."""
    events = run.events("progress")
    if not events:
        return None
    latest = dict(events[-1])
    done_epochs = len(_epochs(run))
    epochs = latest.get("epochs") or run.read_config().get("config", {}).get("epochs") or 0
    inside = latest["done"] / max(latest["total"], 1)
    if latest["phase"] == "train" and epochs:
        latest["fraction"] = min(1.0, (max(done_epochs, (latest["epoch"] or 1) - 1) + inside) / epochs)
    else:
        latest["fraction"] = min(1.0, done_epochs / epochs) if epochs else 0.0
    seconds = [e["seconds"] for e in _epochs(run)]
    if latest["phase"] == "train" and seconds and epochs:
        latest["eta_seconds"] = (epochs - done_epochs - inside) * (sum(seconds) / len(seconds))
    return latest


def summary(run: RunDir) -> dict:
    """One row for the runs table."""
    record, status = run.read_config(), run.status()
    cfg = record.get("config", {})
    epochs = _epochs(run)
    best = max((e["val"]["accuracy"] for e in epochs), default=None)
    return {
        "name": run.name, "path": str(run.path), "created": record.get("created"),
        "state": status.get("state"), "message": status.get("message", ""), "error": status.get("error"),
        "model": cfg.get("model"), "dataset": record.get("dataset", {}).get("name", Path(cfg.get("data", "")).name),
        "trainable_stages": cfg.get("trainable_stages"), "epochs": cfg.get("epochs"),
        "epochs_done": len(epochs), "best_val_accuracy": best, "parent": record.get("parent", ""),
        "tags": tags(run),
    }


def list_runs() -> list[dict]:
    """Every run in the workspace, newest first."""
    runs = [RunDir(p) for p in runs_dir().iterdir() if (p / "config.json").is_file()]
    return sorted((summary(r) for r in runs), key=lambda s: s["created"] or 0, reverse=True)


def tags(run: RunDir) -> list[str]:
    """The labels a user gave the run."""
    return read_json(run.path / "tags.json", [])


def set_tags(run: RunDir, labels: list[str]) -> None:
    """Replace the run's labels (blank ones dropped, order and case kept, no repeats)."""
    clean = list(dict.fromkeys(t.strip() for t in labels if t.strip()))
    atomic_write_json(run.path / "tags.json", clean)


def delete_run(run: RunDir) -> None:
    """Remove a run folder for good; a run that is still training must be stopped first."""
    if not run.exists():
        raise TLError(f"{run.path} is not a run folder.")
    if run.status().get("state") in ("queued", "running"):
        raise TLError(f"Run {run.name} is still training; stop it before deleting it.")
    shutil.rmtree(run.path)


DIFF_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def diff(a: RunDir, b: RunDir) -> dict:
    """Settings that differ between two runs, and their scores side by side."""
    ca, cb = a.read_config().get("config", {}), b.read_config().get("config", {})
    settings = [{"setting": k, "a": ca.get(k), "b": cb.get(k)} for k in sorted(set(ca) | set(cb))
                if ca.get(k) != cb.get(k)]
    ma, mb = a.metrics() or {}, b.metrics() or {}
    metrics = [{"metric": f"{split} {m}", "a": ma[split][m], "b": mb[split][m]}
               for split in ("val", "test") if split in ma and split in mb for m in DIFF_METRICS]
    return {"settings": settings, "metrics": metrics}
