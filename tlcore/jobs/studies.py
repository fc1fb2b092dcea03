"""Sweeps and learning curves in the workspace, started from the app: each as its own detached
worker (like a run). The work itself is tlcore.jobs.sweep's and tlcore.jobs.curve's, in the
worker; their folders are tlcore.studydir's, and tlcore.studio.studies lists them."""

from __future__ import annotations

from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.jobs.command import WorkerCommand
from tlcore.jobs.worker import launch_detached
from tlcore.studydir import StudyDir
from tlcore.training.text_inputs import for_data
from tlcore.workspace import curves_dir, sweeps_dir


def start_sweep(base: TrainConfig, depths: list[int], from_scratch: bool) -> Path:
    """Start a sweep in the workspace as its own detached process (like a run), of the model its data
    needs (``for_data``); returns its folder."""
    study = StudyDir.create(sweeps_dir(), "sweep", for_data(base), depths=depths, from_scratch=from_scratch)
    launch_detached(WorkerCommand("sweep", study.request_path).args(), study.log_path)
    return study.path


def start_curve(base: TrainConfig) -> Path:
    """Compute a learning curve in the workspace as its own detached process, of the model its data
    needs (``for_data``); returns its folder."""
    study = StudyDir.create(curves_dir(), "curve", for_data(base))
    launch_detached(WorkerCommand("curve", study.request_path).args(), study.log_path)
    return study.path
