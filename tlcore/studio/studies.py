"""Sweeps and learning curves for the pages: start one (a worker runs it), and list them with
their rows so far (their folders are ``tlcore.studydir.StudyDir``'s)."""

from __future__ import annotations

from tlcore.jobs.curve import FRACTIONS
from tlcore.jobs.studies import start_curve, start_sweep
from tlcore.studydir import StudyDir
from tlcore.workspace import curves_dir, sweeps_dir

CURVE_POINTS = len(FRACTIONS)  # the runs of a learning curve

__all__ = ["CURVE_POINTS", "curves", "start_curve", "start_sweep", "sweeps"]


def sweeps() -> list[dict]:
    """Every sweep in the workspace, newest first, with its rows so far: name, path, created,
    rows, planned (runs), done."""
    out = []
    for study in StudyDir.all_in(sweeps_dir(), "sweep"):
        rows = study.rows()
        out.append({"name": study.name, "path": str(study.path), "created": study.created,
                    "rows": rows, "planned": study.planned, "done": len(rows) >= study.planned})
    return out


def curves(data: str | None = None) -> list[dict]:
    """Learning curves in the workspace (of one dataset folder, if given), newest first: path,
    created, model, rows, done."""
    out = []
    for study in StudyDir.all_in(curves_dir(), "curve"):
        if data is None or study.data == data:
            rows = study.rows()
            out.append({"path": str(study.path), "created": study.created, "model": study.model,
                        "rows": rows, "done": len(rows) == CURVE_POINTS})
    return out
