"""Studies: a strategy sweep (one run per number of trained stages) and a learning curve (runs on
growing shares of the images), started in the background and read back with their rows so far
(their folders are ``tlcore.studydir.StudyDir``'s)."""

from __future__ import annotations

from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.jobs import studies
from tlcore.jobs.curve import FRACTIONS
from tlcore.studydir import StudyDir
from tlcore.workspace import curves_dir, sweeps_dir

CURVE_POINTS = len(FRACTIONS)  # the runs of a learning curve


def start_sweep(data: str, model: str, depths: list[int], from_scratch: bool, epochs: int) -> Path:
    """Start a sweep over ``depths`` (stages trained) of ``model`` on the images in ``data``, plus
    one run from random weights if ``from_scratch``; its folder."""
    cfg = TrainConfig(data=data, model=model, epochs=int(epochs), augment="none", device="auto")
    return studies.start_sweep(cfg, sorted(depths), from_scratch)


def start_curve(data: str, model: str) -> Path:
    """Start a learning curve of ``model`` (frozen) on the images in ``data``; its folder."""
    return studies.start_curve(TrainConfig(data=data, model=model, trainable_stages=0, augment="none", epochs=40,
                                           device="auto"))


def list_sweeps() -> list[dict]:
    """Every sweep in the workspace, newest first, with its rows so far: name, path, created,
    rows, planned (runs), done."""
    out = []
    for study in StudyDir.all_in(sweeps_dir(), "sweep"):
        rows = study.rows()
        out.append({"name": study.name, "path": str(study.path), "created": study.created,
                    "rows": rows, "planned": study.planned, "done": len(rows) >= study.planned})
    return out


def list_curves(data: str | None = None) -> list[dict]:
    """Learning curves in the workspace (of one dataset folder, if given), newest first: path,
    created, model, rows, done."""
    out = []
    for study in StudyDir.all_in(curves_dir(), "curve"):
        if data is None or study.data == data:
            rows = study.rows()
            out.append({"path": str(study.path), "created": study.created, "model": study.model,
                        "rows": rows, "done": len(rows) == CURVE_POINTS})
    return out
