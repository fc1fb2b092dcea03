"""Datasets: bring labelled images into the studio (a zip, a sample, photos per class, camera
bursts), list and open the stored ones, and check them before training."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tlcore.data.dataset import FEW_IMAGES, audit, check_trainable
from tlcore.data.images import ImageProblem, open_rgb
from tlcore.data.samples import available_samples, load_sample
from tlcore.data.store import (class_folders, class_names, dataset_folder, dataset_kind, import_class_images,
                               import_zip, list_datasets, open_dataset, remove_blank, remove_copies)
from tlcore.data.texts_store import open_texts
from tlcore.errors import TLError
from tlcore.use.live import BurstPace, BurstRecorder

def dataset_summary(folder: str | Path) -> dict | None:
    """Name, class count, example count (``images``) and kind ("image" or "text") of a stored dataset,
    or None if it cannot be opened."""
    try:
        if dataset_kind(folder) == "text":
            data = open_texts(folder)
            return {"name": data.name, "classes": len(data.classes), "images": len(data.items), "kind": "text"}
        ds = open_dataset(folder)
    except TLError:
        return None
    return {"name": ds.name, "classes": len(ds.classes), "images": len(ds.items), "kind": "image"}


def split_counts(folder: str | Path) -> tuple[int, int, int]:
    """A stored dataset's (images or texts): its labelled examples, its own validation examples among
    them, and its test examples."""
    items = open_texts(folder).items if dataset_kind(folder) == "text" else open_dataset(folder).items
    return (sum(1 for i in items if i.split != "test"), sum(1 for i in items if i.split == "val"),
            sum(1 for i in items if i.split == "test"))


def audit_dataset(folder: str | Path) -> tuple[dict, list[dict], str]:
    """The check of a stored dataset: the audit's report, one row per image (path, class, width,
    height) and what blocks training ("" if nothing)."""
    ds = open_dataset(folder)
    items = [{"path": i.path, "class": i.label, "width": i.width, "height": i.height} for i in ds.items]
    try:
        check_trainable(ds)
    except TLError as e:
        return audit(ds), items, str(e)
    return audit(ds), items, ""


def picture(source: str | Path | bytes, size: int) -> Image.Image | None:
    """An image file (its path or its bytes) as RGB, decoded at about ``size`` pixels to be quick,
    or None when it cannot be read."""
    try:
        return open_rgb(source, draft_size=size)
    except ImageProblem:
        return None
