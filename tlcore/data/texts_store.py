"""Text datasets kept in the workspace, as image datasets are (tlcore.data.store): a folder under
the datasets folder holding a ``manifest.json`` that says ``"kind": "text"`` and holds the texts
themselves, exactly as read (HTML, Markdown and formulas are characters of the text), with their
labels, splits and where each came from. An uploaded table or zip is kept beside it in ``files/``.

A table or zip is stored once per distinct content (and choice of columns); typed or pasted lines
make a new dataset, or join a class of a stored one. Nothing of a refused or failed import stays in
the workspace, and a refused change leaves the stored dataset as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

from tlcore.atomic import atomic_write_json, disk_full, is_disk_full
from tlcore.data.archive import extract_zip
from tlcore.data.dataset import MANIFEST
from tlcore.data.names import class_name, same_name
from tlcore.data.texts import (MAX_TABLE_BYTES, TABLE_SUFFIXES, TextData, TextItem, checked, read_table,
                               read_text_folder, refuse_label_twins, table_too_large)
from tlcore.errors import TLError
from tlcore.workspace import datasets_dir

KIND = "text"
VERSION = 1
_KEYS = {"version", "kind", "id", "name", "classes", "items", "notes", "columns"}
DAMAGED_TEXTS = "The saved text dataset '{folder}' is damaged; import the texts again."
NO_TYPED_TEXTS = "Type or paste at least one text (one a line) into a class before saving the dataset."
NO_CLASS = "Choose the class the typed texts belong to."
NO_TEXTS_TO_ADD = "Type or paste at least one text (one a line) before adding them."


def text_id(data: TextData) -> str:
    """The content id of a text dataset: its (label, split, text) triples, as an image dataset's id
    is its (label, split, content hash) triples."""
    triples = sorted((i.label, i.split, i.text) for i in data.items)
    return hashlib.sha256(json.dumps(triples).encode()).hexdigest()[:16]


def save_texts(data: TextData, folder: Path) -> Path:
    """Write ``data`` as the manifest of ``folder`` (atomically); return the manifest's path."""
    target = folder / MANIFEST
    atomic_write_json(target, {"version": VERSION, "kind": KIND, "id": text_id(data), "name": data.name,
                               "classes": data.classes, "items": [asdict(i) for i in data.items],
                               "notes": data.notes, "columns": list(data.columns) if data.columns else None})
    return target


def open_texts(folder: str | Path) -> TextData:
    """The text dataset stored in ``folder``."""
    folder = Path(folder)
    try:
        raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if set(raw) != _KEYS or raw["version"] != VERSION or raw["kind"] != KIND:
            raise ValueError("not a text manifest")
        items = [TextItem(**d) for d in raw["items"]]
        columns = tuple(raw["columns"]) if raw["columns"] else None
        return TextData(raw["name"], list(raw["classes"]), items, list(raw["notes"]), columns)
    except FileNotFoundError:
        raise TLError(f"There is no saved dataset in '{folder.name}'.") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise TLError(DAMAGED_TEXTS.format(folder=folder.name)) from None


def _stored(key: str, build) -> TextData:
    """The dataset stored under ``key``, or ``build(folder)``'s, saved there. A failed or refused
    build leaves nothing behind."""
    folder = datasets_dir() / f"text-{key}"
    if (folder / MANIFEST).is_file():
        return open_texts(folder)
    shutil.rmtree(folder, ignore_errors=True)  # what an import cut short (power cut, kill) left
    try:
        data = build(folder)
        save_texts(data, folder)
    except BaseException as err:
        shutil.rmtree(folder, ignore_errors=True)
        if is_disk_full(err):
            raise disk_full(folder.parent) from err
        raise
    return data


def import_texts(data: bytes, filename: str, text_column: str | None = None,
                 label_column: str | None = None) -> TextData:
    """Store an uploaded table (.csv, .tsv) or zip of class folders of .txt files, and read it.
    The text and label columns are guessed when not given and obvious."""
    name = Path(filename).name or "the file"
    suffix = Path(name).suffix.lower()
    if suffix in TABLE_SUFFIXES and len(data) > MAX_TABLE_BYTES:
        raise table_too_large(name, len(data))
    if suffix not in (*TABLE_SUFFIXES, ".zip"):
        raise TLError(f"{name} is not a table (.csv or .tsv) or a .zip file of texts.")
    choice = json.dumps([text_column, label_column]).encode()
    key = hashlib.sha256(data + choice).hexdigest()[:16]

    def build(folder: Path) -> TextData:
        files = folder / "files"
        if suffix == ".zip":
            return read_text_folder(extract_zip(data, files, name=name), Path(name).stem or "uploaded zip")
        files.mkdir(parents=True)
        (files / f"table{suffix}").write_bytes(data)
        return read_table(files / f"table{suffix}", text_column, label_column, name)

    return _stored(key, build)


def import_text_path(path: str | Path, text_column: str | None = None,
                     label_column: str | None = None) -> TextData:
    """Store the texts of a table, a zip or a folder of class folders on this computer."""
    source = Path(path).expanduser()
    if not source.exists():
        raise TLError(f"The path {source} does not exist. Check it, or choose the file again.")
    if source.is_dir():
        data = read_text_folder(source)
        return _stored(text_id(data), lambda folder: data)
    size = source.stat().st_size
    if source.suffix.lower() in TABLE_SUFFIXES and size > MAX_TABLE_BYTES:
        raise table_too_large(source.name, size)
    return import_texts(source.read_bytes(), source.name, text_column, label_column)


def _typed(lines: str, label: str, origin: str) -> list[TextItem]:
    return [TextItem(line.strip(), label, "", origin) for line in lines.splitlines() if line.strip()]


def type_texts(name: str, classes: dict[str, str]) -> TextData:
    """Store a new text dataset from lines typed or pasted per class (one example a line; empty
    lines are skipped)."""
    labels = {label: class_name(label.strip(), "class name") for label in classes if label.strip()}
    refuse_label_twins(sorted(set(labels.values())))
    items = [i for given, label in labels.items() for i in _typed(classes[given], label, "typed")]
    if not items:
        raise TLError(NO_TYPED_TEXTS)
    data = checked(TextData(name.strip() or "typed texts", sorted(set(labels.values())), items), "the typed texts")
    return _stored(f"{time.strftime('%Y%m%d-%H%M%S')}-{text_id(data)[:6]}", lambda _: data)


def add_typed_texts(folder: str | Path, label: str, lines: str) -> TextData:
    """Add lines typed or pasted into class ``label`` (a new class or one it has, in any case) of the
    text dataset stored in ``folder``; only its manifest changes."""
    data = open_texts(folder)
    label = class_name(label.strip(), "class name") if label.strip() else ""
    if not label:
        raise TLError(NO_CLASS)
    label = next((c for c in data.classes if same_name(c) == same_name(label)), label)  # 'Refund' is 'refund'
    new = _typed(lines, label, "typed")
    if not new:
        raise TLError(NO_TEXTS_TO_ADD)
    classes = sorted(set(data.classes) | {label})
    grown = replace(data, classes=classes, items=data.items + new)
    save_texts(grown, Path(folder))
    return grown
