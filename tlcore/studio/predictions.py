"""Predictions of a trained model: for image files the user uploads or names, and for single
camera frames."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from tlcore.rundir import RunDir
from tlcore.use.live import FrameClassifier, LiveFeed, frame_jpeg
from tlcore.use.predict import Predictor, results_csv


def model_changed(run: RunDir) -> float:
    """When the run's model was last written (its weights file's time): a new one loads anew."""
    return run.bundle.weights.stat().st_mtime


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
