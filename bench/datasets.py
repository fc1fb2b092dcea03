"""The quality benchmark's datasets, as (train, test) draws of image file lists or arrays.

- Fashion-MNIST (Debian's dataset-fashion-mnist): n training images a class drawn from its
  training set, 1000 fixed test images (100 a class) from its test set.
- scikit-learn's bundled digits (8x8 grey): n a class for training, all the rest as test.
- Clip art from Debian's openclipart-png: eight visually distinct category folders (the PNGs
  directly in each, chosen before any measurement); n a class for training, the rest (at most
  ``test_cap`` a class) as test. Transparent PNGs go onto white, as the engine does with any image;
  files the engine cannot read (5 of the package's PNGs are over its pixel limit) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLIPART_DIR = Path("/usr/share/openclipart/png")
CLIPART_CLASSES = ("food/fruit", "animals/mammals", "animals/birds", "animals/bugs", "transportation/vehicles",
                   "transportation/roadsigns", "signs_and_symbols/flags", "recreation/music")


def clipart_files(classes: tuple[str, ...] = CLIPART_CLASSES,
                  pattern: str = "*.png") -> tuple[list[str], np.ndarray, list[str]]:
    """The readable PNGs matching ``pattern`` in each of the ``classes`` folders (default: the PNGs
    directly in the eight chosen ones), their class indices and the class names."""
    from tlcore.data.images import ImageProblem, check_image

    files, labels = [], []
    for c, name in enumerate(classes):
        for p in sorted((CLIPART_DIR / name).glob(pattern)):
            try:
                check_image(str(p))
            except ImageProblem:
                continue
            files.append(str(p))
            labels.append(c)
    return files, np.array(labels), [c.split("/")[-1] for c in classes]


def fashion_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Fashion-MNIST train and test images (uint8 28x28) with labels, and the class names."""
    from tlcore.data.samples import FASHION_CLASSES, fashion_mnist

    x, y = fashion_mnist("train")
    tx, ty = fashion_mnist("test")
    return x, y, tx, ty, list(FASHION_CLASSES)


def digits_arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's digits as uint8 8x8 images (0..16 scaled to 0..255) with labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * (255 / 16)).round().astype(np.uint8), d.target, [str(i) for i in range(10)]


def draw(labels: np.ndarray, per_class: int, seed: int, test_cap: int | None = None,
         exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` training examples a class (seeded), and the rest as test (at most
    ``test_cap`` a class, also seeded); ``exclude`` indices are never drawn."""
    rng = np.random.default_rng(seed)
    free = np.ones(len(labels), bool)
    if exclude is not None:
        free[exclude] = False
    train, test = [], []
    for c in np.unique(labels):
        pool = rng.permutation(np.flatnonzero((labels == c) & free))
        train.append(pool[:per_class])
        rest = pool[per_class:]
        test.append(rest if test_cap is None else rest[:test_cap])
    return np.concatenate(train), np.concatenate(test)
