"""Using a trained model: its predictions for uploaded images and camera frames, the "not sure"
rule the user chooses, where the model looked (Grad-CAM), and the advice on what to do next."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from tlcore.models.bundle import WEIGHTS
from tlcore.rundir import RunDir
from tlcore.use.advice import advise
from tlcore.use.explain import gradcam
from tlcore.use.live import FrameClassifier, LiveFeed, frame_jpeg
from tlcore.use.notsure import (calibration_sentence, coverage_of, coverage_sentence, rule_for, rule_of,
                                rule_sentence)
from tlcore.use.predict import Predictor, results_csv


def model_changed(run: RunDir) -> float:
    """When the run's model was last written (its weights file's time): a new one loads anew."""
    return (run.bundle_path / WEIGHTS).stat().st_mtime


def load_predictor(run_folder: str | Path) -> Predictor:
    """The run's trained model, ready to classify image files."""
    return Predictor.from_run(run_folder)


def live_classifier(run_folder: str | Path) -> FrameClassifier:
    """The run's trained model for single camera frames."""
    return FrameClassifier(Predictor.from_run(run_folder))


def predict_uploads(predictor: Predictor, named: list[tuple[str, bytes]], top: int,
                    on_batch: Callable[[int, int], None] | None = None) -> list[dict]:
    """Predictions for images given as (name, bytes), each row with the name it came under;
    ``on_batch(done, total)`` follows the batches."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (name, data) in enumerate(named):
            path = Path(tmp) / f"{i:05d}{Path(name).suffix.lower()}"
            path.write_bytes(data)
            paths.append(path)
        rows = predictor.predict_files(paths, top=top, on_batch=on_batch)
    return [{**row, "file": name} for row, (name, _) in zip(rows, named)]


def keep_not_sure_rule(run: RunDir, target: float | None, as_it_came: bool) -> None:
    """Save the "not sure" rule the user chose in the run folder: right at least ``target`` of the
    time (None: off), or the model's own threshold as it came (the saved rule is forgotten)."""
    run.set_not_sure_rule(None if as_it_came else rule_for(target, coverage_of(run)))
