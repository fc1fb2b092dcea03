"""Datasets kept once in the workspace: uploaded zips, per-class uploads and samples, each a
folder holding its files and a ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tlcore.data.archive import extract_zip
from tlcore.atomic import disk_full, is_disk_full
from tlcore.data.dataset import MANIFEST, Dataset, scan_folder, with_zip_skipped
from tlcore.data.blank import find_blank
from tlcore.data.leakage import HELD_OUT, find_copies
from tlcore.data.names import class_name, normal, same_name
from tlcore.errors import TLError
from tlcore.workspace import datasets_dir

Progress = Callable[[int, int], None] | None
MAX_CLASS_NAME = 100  # characters; file systems allow 255 bytes, and accents take two
NOT_A_CLASS_NAME = "'{name}' cannot be a class name; use letters, digits, spaces or dashes."
LONG_CLASS_NAME = "The class name '{start}…' is {length} characters long; use at most {limit}."
SAME_FOLDER = ("The class names '{first}' and '{second}' would be saved as the same folder '{folder}'; rename one "
               "of them.")


def slug(text: str, limit: int = 60, empty: str = "dataset") -> str:
    """``text`` as a safe file or folder name: runs of other characters become '-', at most
    ``limit`` characters, ``empty`` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:limit] or empty


def import_zip(data: bytes, filename: str, progress: Progress = None) -> Dataset:
    """Store an uploaded zip of class folders (unpacked once per distinct zip) and scan it.

    Nothing of a refused or failed import stays in the workspace."""
    key = hashlib.sha256(data).hexdigest()[:16]
    folder = datasets_dir() / key
    if (folder / MANIFEST).is_file():
        return Dataset.load(folder)
    shutil.rmtree(folder, ignore_errors=True)  # what an import cut short (power cut, kill) left
    name = Path(filename).name or "the zip"
    try:
        files = extract_zip(data, folder / "files", name=name)
        ds = with_zip_skipped(scan_folder(files, progress=progress), data, name,
                              Path(filename).stem or "uploaded zip")
        ds.save(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ds


def class_names(text: str) -> list[str]:
    """The class names typed in ``text``, separated by commas, as stored (see tlcore.data.names), each once."""
    return list(dict.fromkeys(n for n in map(normal, text.split(",")) if n))


def _clean_class(name: str) -> str:
    """The folder name for class ``name``: a control character is refused, characters no file
    system accepts become spaces, and leading or trailing dots and spaces go (Windows drops them;
    "." and ".." are not folders)."""
    cleaned = re.sub(r'[\\/:*?"<>|]+', " ", class_name(name, "class name")).strip(" .")
    if not cleaned:
        raise TLError(NOT_A_CLASS_NAME.format(name=name))
    if len(cleaned) > MAX_CLASS_NAME:
        raise TLError(LONG_CLASS_NAME.format(start=cleaned[:30], length=len(cleaned), limit=MAX_CLASS_NAME))
    return cleaned


def class_folders(labels: list[str]) -> dict[str, str]:
    """Class name -> folder name. Names that are the same text once in NFC ('café' typed two ways)
    share a folder: they are one class. Two other names that would share a folder are refused
    (some disks ignore upper and lower case, so those count as the same too)."""
    folders: dict[str, str] = {}
    seen: dict[str, str] = {}
    for label in labels:
        folder = _clean_class(label)
        other = seen.setdefault(same_name(folder), label)
        if normal(other) != normal(label):
            raise TLError(SAME_FOLDER.format(first=other, second=label, folder=folder))
        folders[label] = folder
    return folders


def import_class_images(name: str, classes: dict[str, list[tuple[str, bytes]]],
                        progress: Progress = None) -> Dataset:
    """Store images uploaded (or photographed) per class under a new dataset folder and scan them."""
    if not any(classes.values()):
        raise TLError("Add at least one image to a class before saving the dataset.")
    folders = class_folders(list(classes))
    folder = datasets_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(name)}"
    while folder.exists():
        folder = folder.with_name(folder.name + "-1")
    try:
        by_folder: dict[str, list[tuple[str, bytes]]] = {}
        for label, files in classes.items():
            by_folder.setdefault(folders[label], []).extend(files)
        for class_folder, files in by_folder.items():
            target = folder / "files" / class_folder
            target.mkdir(parents=True, exist_ok=True)
            for i, (filename, data) in enumerate(files):
                (target / f"{i:05d}-{slug(Path(filename).name)}").write_bytes(data)
        ds = replace(scan_folder(folder / "files", progress=progress), name=name or folder.name)
        ds.save(folder)
    except BaseException as err:
        shutil.rmtree(folder, ignore_errors=True)
        if is_disk_full(err):
            raise disk_full(folder.parent) from err
        raise
    return ds


def list_datasets() -> list[dict]:
    """Every stored dataset, newest first, without loading its images; ``kind`` is "image" or
    "text" (tlcore.data.texts_store), ``images`` counts its examples."""
    out = []
    for manifest in datasets_dir().glob(f"*/{MANIFEST}"):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.append({"id": data["id"], "name": data["name"], "folder": str(manifest.parent),
                    "classes": data["classes"], "images": len(data["items"]),
                    "kind": data.get("kind", "image"), "created": manifest.stat().st_mtime})
    return sorted(out, key=lambda d: d["created"], reverse=True)


def dataset_kind(folder: str | Path) -> str:
    """"text" for a stored text dataset, else "image" (what every page follows)."""
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8")).get("kind", "image")
    except (OSError, json.JSONDecodeError, AttributeError):
        return "image"


def open_dataset(folder: str | Path) -> Dataset:
    """A stored image dataset by its folder (a text dataset opens with tlcore.data.texts_store)."""
    if dataset_kind(folder) != "image":
        raise TLError("This dataset holds texts, not images; open it as a text project.")
    return Dataset.load(folder)


def dataset_folder(ds: Dataset) -> str:
    """The stored folder of ``ds`` (what a run's ``data`` setting points at)."""
    for entry in list_datasets():
        if entry["id"] == ds.id:
            return entry["folder"]
    raise TLError(f"The dataset '{ds.name}' is not stored in the workspace; import it again.")


def remove_copies(folder: str | Path, split: str) -> Dataset:
    """Take the ``split`` ("val" or "test") images that copy training images out of the stored
    dataset in ``folder`` and return what is left. Only its manifest changes: the files stay,
    so earlier runs on it can still be reproduced."""
    if split not in HELD_OUT:
        raise ValueError(f"copies are only removed from {HELD_OUT}, not {split!r}")
    ds = Dataset.load(folder)
    drop = {c.path for c in find_copies(ds.items).get(split, [])}
    if not drop:
        return ds
    left = ds.with_items(i for i in ds.items if i.path not in drop)
    left.save(folder)
    return left


def remove_blank(folder: str | Path) -> Dataset:
    """Take the blank and near-blank images (tlcore.data.blank) out of the stored dataset in
    ``folder`` and return what is left. Only its manifest changes, as with ``remove_copies``."""
    ds = Dataset.load(folder)
    drop = {i.path for i in find_blank(ds.items)}
    if not drop:
        return ds
    left = ds.with_items(i for i in ds.items if i.path not in drop)
    left.save(folder)
    return left
