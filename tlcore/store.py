"""Datasets kept once in the workspace: uploaded zips, per-class uploads and samples, each a
folder holding its files and a ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tlcore.dataset import MANIFEST, Dataset, load_source, scan_folder
from tlcore.errors import TLError
from tlcore.workspace import datasets_dir

Progress = Callable[[int, int], None] | None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60] or "dataset"


def import_zip(data: bytes, filename: str, progress: Progress = None) -> Dataset:
    """Store an uploaded zip of class folders (unpacked once per distinct zip) and scan it."""
    key = hashlib.sha256(data).hexdigest()[:16]
    folder = datasets_dir() / key
    if (folder / MANIFEST).is_file():
        return Dataset.load(folder)
    folder.mkdir(parents=True, exist_ok=True)
    upload = folder / "upload.zip"
    upload.write_bytes(data)
    try:
        ds = load_source(upload, datasets_dir(), progress=progress)
    finally:
        upload.unlink(missing_ok=True)
    ds = replace(ds, name=Path(filename).stem or "uploaded zip")
    ds.save(folder)
    return ds


def _clean_class(name: str) -> str:
    cleaned = re.sub(r"[\\/:*?\"<>|]+", " ", name).strip().strip(".")
    if not cleaned:
        raise TLError(f"'{name}' cannot be a class name; use letters, digits, spaces or dashes.")
    return cleaned


def import_class_images(name: str, classes: dict[str, list[tuple[str, bytes]]],
                        progress: Progress = None) -> Dataset:
    """Store images uploaded (or photographed) per class under a new dataset folder and scan them."""
    if not any(classes.values()):
        raise TLError("Add at least one image to a class before saving the dataset.")
    folder = datasets_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"
    while folder.exists():
        folder = folder.with_name(folder.name + "-1")
    for label, files in classes.items():
        target = folder / "files" / _clean_class(label)
        target.mkdir(parents=True, exist_ok=True)
        for i, (filename, data) in enumerate(files):
            (target / f"{i:05d}-{_slug(Path(filename).name)}").write_bytes(data)
    ds = replace(scan_folder(folder / "files", progress=progress), name=name or folder.name)
    ds.save(folder)
    return ds


def list_datasets() -> list[dict]:
    """Every stored dataset, newest first, without loading its images."""
    out = []
    for manifest in datasets_dir().glob(f"*/{MANIFEST}"):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.append({"id": data["id"], "name": data["name"], "folder": str(manifest.parent),
                    "classes": data["classes"], "images": len(data["items"]),
                    "created": manifest.stat().st_mtime})
    return sorted(out, key=lambda d: d["created"], reverse=True)


def open_dataset(folder: str | Path) -> Dataset:
    """A stored dataset by its folder."""
    return Dataset.load(folder)


def dataset_folder(ds: Dataset) -> str:
    """The stored folder of ``ds`` (what a run's ``data`` setting points at)."""
    for entry in list_datasets():
        if entry["id"] == ds.id:
            return entry["folder"]
    raise TLError(f"The dataset '{ds.name}' is not stored in the workspace; import it again.")
