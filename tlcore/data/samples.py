"""Sample datasets that work offline, for demos and first steps."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from tlcore.data.dataset import MANIFEST, Dataset, scan_folder
from tlcore.errors import TLError
from tlcore.workspace import datasets_dir

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat",
                   "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
DIGIT_CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def available_samples() -> dict[str, str]:
    """Sample name -> one-line description, for the samples present on this machine."""
    out = {"digits": "Handwritten digits 0-9 (scikit-learn), small greyscale scans"}
    if (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        out["fashion-mnist"] = "Clothing photos in 10 classes (Zalando Fashion-MNIST), greyscale"
    return out


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dimensions, then raw uint8 data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images [N,28,28] uint8 and labels [N] of Fashion-MNIST's train or test split."""
    prefix = "train" if split == "train" else "t10k"
    return (read_idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz"),
            read_idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"))


def _arrays(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        images = (d.images * (255 / 16)).round().astype(np.uint8)
        return images, d.target, DIGIT_CLASSES
    if name == "fashion-mnist" and name in available_samples():
        return (*fashion_mnist("train"), FASHION_CLASSES)
    raise TLError(f"The sample '{name}' is not available here. Choose one of: {', '.join(available_samples())}.")


def load_sample(name: str, per_class: int = 30) -> Dataset:
    """Write ``per_class`` images of each class as PNGs into the workspace (once) and scan them."""
    folder = datasets_dir() / f"sample-{name}-{per_class}"
    if (folder / MANIFEST).is_file():
        return Dataset.load(folder)
    images, labels, classes = _arrays(name)
    rng = np.random.default_rng(0)
    for c, cname in enumerate(classes):
        target = folder / "files" / cname
        target.mkdir(parents=True, exist_ok=True)
        picks = rng.choice(np.flatnonzero(labels == c), min(per_class, int((labels == c).sum())), replace=False)
        for i in picks:
            # Upscale tiny images (8 px digits) so thumbnails are visible; the model resizes anyway.
            img = Image.fromarray(images[i])
            img.resize((max(32, img.width), max(32, img.height)), Image.NEAREST).save(target / f"{i}.png")
    ds = replace(scan_folder(folder / "files"), name=f"{name} sample ({per_class} per class)")
    ds.save(folder)
    return ds
