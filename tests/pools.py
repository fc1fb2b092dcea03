"""Small labelled datasets and unlabelled pools for the labelling tests, built in the test."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from tlcore.data import store

CLASSES = ("red", "green", "blue")


def image(cls: int, k: int, size: int = 40) -> bytes:
    """A PNG mostly of colour ``cls`` (0-2) with noise seeded by (cls, k): distinct pictures."""
    rng = np.random.default_rng(1000 * cls + k)
    a = np.zeros((size, size, 3), np.uint8)
    a[..., cls] = 180
    a = (a + rng.integers(0, 70, a.shape)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def dataset(per_class: int = 3, classes=CLASSES) -> str:
    """A stored dataset of ``per_class`` images a class (images 0..per_class-1); its folder."""
    ds = store.import_class_images("colours", {c: [(f"{c}{k}.png", image(i, k)) for k in range(per_class)]
                                               for i, c in enumerate(classes)})
    return store.dataset_folder(ds)


def pool_folder(folder: Path, per_class: int = 5, start: int = 10) -> Path:
    """A folder of unlabelled images (no class folders): ``per_class`` of each colour."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(CLASSES)):
        for k in range(start, start + per_class):
            (folder / f"u{i}-{k}.png").write_bytes(image(i, k))
    return folder


def zipped(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()
