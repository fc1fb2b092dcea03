"""Small real datasets for tests, written to disk as class folders of PNG files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat",
                   "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images [N,28,28] uint8 and labels [N] from Debian's dataset-fashion-mnist."""
    prefix = "train" if split == "train" else "t10k"
    return (_idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz"),
            _idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"))


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
