"""Small real datasets for tests, written to disk as class folders of PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tlcore.data.samples import FASHION_CLASSES, FASHION_DIR, fashion_mnist

__all__ = ["FASHION_CLASSES", "FASHION_DIR", "fashion_mnist", "pick_per_class", "write_class_folders"]


def pick_per_class(labels: np.ndarray, per_class: int, classes: list[int], seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` random examples of each class, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes])


def write_class_folders(root: Path, images: np.ndarray, labels: np.ndarray, names: list[str],
                        index: np.ndarray) -> Path:
    """Save ``images[index]`` as root/<class name>/<i>.png and return root."""
    for i in index:
        folder = root / names[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(folder / f"{i}.png")
    return root
