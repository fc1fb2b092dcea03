"""The workspace folder: stored datasets, runs and device locks, shared by every app session."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TLSTUDIO_HOME"


def workspace_dir() -> Path:
    """``$TLSTUDIO_HOME`` if set, else ``~/.tlstudio``; created on first use."""
    path = Path(os.environ.get(ENV_VAR) or Path.home() / ".tlstudio")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sub(name: str) -> Path:
    path = workspace_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    """Where imported datasets (unzipped uploads and their manifests) are stored once."""
    return _sub("datasets")


def runs_dir() -> Path:
    """Where the studio creates run directories."""
    return _sub("runs")


def locks_dir() -> Path:
    """Lock files that make runs queue for a device."""
    return _sub("locks")


def sweeps_dir() -> Path:
    """Where strategy sweeps started from the studio keep their runs and summary."""
    return _sub("sweeps")


def standby_dir() -> Path:
    """Where warm worker processes announce themselves and receive their job."""
    return _sub("standby")


def curves_dir() -> Path:
    """Where learning curves started from the studio keep their runs and results."""
    return _sub("curves")
