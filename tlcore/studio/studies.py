"""Studies: a strategy sweep (one run per number of trained stages) and a learning curve (runs on
growing shares of the images), started in the background and read back as they progress."""

from __future__ import annotations

from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.jobs.curve import FRACTIONS
from tlcore.jobs.studies import list_curves, list_sweeps
from tlcore.jobs import studies

CURVE_POINTS = len(FRACTIONS)  # runs in one learning curve


def start_sweep(data: str, model: str, depths: list[int], from_scratch: bool, epochs: int) -> Path:
    """Start a sweep over ``depths`` (stages trained) of ``model`` on the images in ``data``, plus
    one run from random weights if ``from_scratch``; its folder."""
    cfg = TrainConfig(data=data, model=model, epochs=int(epochs), augment="none", device="auto")
    return studies.start_sweep(cfg, sorted(depths), from_scratch)


def start_curve(data: str, model: str) -> Path:
    """Start a learning curve of ``model`` (frozen) on the images in ``data``; its folder."""
    return studies.start_curve(TrainConfig(data=data, model=model, trainable_stages=0, augment="none", epochs=40,
                                           device="auto"))
