"""Exports: the trained model taken away from the studio (the bundle as a zip, ONNX, .pt2, the
web page, the model card), made once per version of the model and checked before it is offered."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tlcore.atomic import atomic_write_bytes
from tlcore.rundir import RunDir
from tlcore.use.card import model_card
from tlcore.use.export import current_export, export_bundle, export_to_run
from tlcore.use.notsure import rule_of
from tlcore.use.webdemo import write_web_demo


def export_stamps(run: RunDir, fmt: str) -> tuple[int, ...] | None:
    """The change time of the run's export ``fmt`` (which no one can set) and the times of the files
    it was made from, to tell one version of them from the next; None when it was not made."""
    path = run.export_path(fmt)
    if not path.is_file():
        return None
    made_from = (run.bundle.weights, run.bundle.meta, run.not_sure_path)
    return (path.stat().st_ctime_ns, *(p.stat().st_mtime_ns for p in made_from if p.is_file()))


def export_is_current(run: RunDir, fmt: str, not_sure_below: float) -> bool:
    """Whether the run's export ``fmt`` can be offered as it is (see ``current_export``)."""
    return current_export(run, fmt, not_sure_below) is not None


def bundle_zip(run: RunDir) -> bytes:
    """The run's model bundle (weights and model.json) as a zip, in a folder named for the run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(run.bundle_path.iterdir()):
            zf.write(path, f"{run.name}/{path.name}")
    return buf.getvalue()


def export_file(run_folder: str | Path, fmt: str, out: Path) -> float:
    """Write the run's model as ``fmt`` ("onnx" or "pt2") to ``out``, with the run's "not sure"
    rule; the largest difference from the PyTorch model on test images."""
    run = RunDir(run_folder)
    return export_bundle(run.bundle_path, fmt, out, rule_of(run).below)


def write_card(run_folder: str | Path, out: Path) -> None:
    """Write the run's model card (Markdown) to ``out``."""
    atomic_write_bytes(out, model_card(RunDir(run_folder)).encode())
