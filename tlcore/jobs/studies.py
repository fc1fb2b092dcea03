"""Sweeps and learning curves in the workspace, seen from the app: starting each as its own
detached worker (like a run), and listing them with their rows so far. The work itself is
tlcore.jobs.sweep's and tlcore.jobs.curve's, in the worker."""

from __future__ import annotations

import time
from pathlib import Path

from tlcore.atomic import atomic_write_json, read_json
from tlcore.config import TrainConfig
from tlcore.jobs.curve import FRACTIONS
from tlcore.jobs.worker import launch_detached
from tlcore.workspace import curves_dir, sweeps_dir


def _new_folder(parent: Path, base: TrainConfig) -> Path:
    folder = parent / f"{time.strftime('%Y%m%d-%H%M%S')}-{base.model}"
    folder.mkdir(parents=True)
    return folder


def start_sweep(base: TrainConfig, depths: list[int], from_scratch: bool) -> Path:
    """Start a sweep in the workspace as its own detached process (like a run); returns its folder."""
    folder = _new_folder(sweeps_dir(), base)
    atomic_write_json(folder / "request.json", {"config": base.to_json(), "depths": depths,
                                                "from_scratch": from_scratch, "created": time.time()})
    launch_detached(["sweep", "--request", str(folder / "request.json")], folder / "sweep.log")
    return folder


def list_sweeps() -> list[dict]:
    """Every sweep in the workspace, newest first, with its rows so far."""
    out = []
    for request in sweeps_dir().glob("*/request.json"):
        spec, rows = read_json(request), read_json(request.parent / "summary.json", [])
        planned = len(spec["depths"]) + bool(spec["from_scratch"])
        out.append({"name": request.parent.name, "path": str(request.parent), "created": spec["created"],
                    "rows": rows, "planned": planned, "done": len(rows) >= planned})
    return sorted(out, key=lambda s: s["created"], reverse=True)


def start_curve(base: TrainConfig) -> Path:
    """Compute a learning curve in the workspace as its own detached process; returns its folder."""
    folder = _new_folder(curves_dir(), base)
    atomic_write_json(folder / "request.json", {"config": base.to_json(), "created": time.time()})
    launch_detached(["curve", "--request", str(folder / "request.json")], folder / "curve.log")
    return folder


def list_curves(data: str | None = None) -> list[dict]:
    """Learning curves in the workspace (of one dataset folder, if given), newest first."""
    out = []
    for request in curves_dir().glob("*/request.json"):
        spec = read_json(request)
        if data is None or spec["config"]["data"] == data:
            rows = read_json(request.parent / "curve.json", [])
            out.append({"path": str(request.parent), "created": spec["created"], "model": spec["config"]["model"],
                        "rows": rows, "done": len(rows) == len(FRACTIONS)})
    return sorted(out, key=lambda c: c["created"], reverse=True)
