"""Text projects at the front door: bring texts into the workspace (an uploaded table or zip, a
table, zip or folder on this computer, lines typed into classes), open them, tell a stored
dataset's kind, find a stored dataset's folder, audit them in plain words, and read a text run's texts."""

from __future__ import annotations

import json
from pathlib import Path

from tlcore.data.encoding import NotText, decode_text
from tlcore.data.store import dataset_kind, list_datasets
from tlcore.data.texts import (MAX_TABLE_BYTES, SPLIT_COLUMN, TABLE_SUFFIXES, TextData, TextItem, guess_columns,
                               table_frame)
from tlcore.data.texts_audit import audit_texts
from tlcore.data.texts_store import (add_typed_texts, import_text_path, import_texts, open_texts, text_id,
                                     type_texts)
from tlcore.errors import TLError
from tlcore.jobs.recorder import TEXTS
from tlcore.training.text_inputs import TEXT_MODEL

__all__ = ["TEXT_MODEL", "TextData", "TextItem", "add_typed_texts", "audit_texts", "dataset_kind", "import_text_path",
           "import_texts", "open_texts", "run_texts", "table_columns", "text_audit", "text_folder", "type_texts"]


def table_columns(data: bytes, filename: str) -> tuple[list[str], tuple[str, str] | None]:
    """The columns of an uploaded table (.csv, .tsv) and its (text, label) columns when they are
    obvious, else None; ([], None) for a zip or a file that cannot be read as a table (its import
    then says why in one line)."""
    name = Path(filename).name or "the file"
    if Path(name).suffix.lower() not in TABLE_SUFFIXES or len(data) > MAX_TABLE_BYTES:
        return [], None
    try:
        frame = table_frame(Path(name), decode_text(data, name)[0], name)
    except (NotText, TLError):
        return [], None
    columns = {c: frame[c].tolist() for c in frame.columns}
    guess = guess_columns({c: v for c, v in columns.items() if c.lower() != SPLIT_COLUMN}) if len(columns) > 1 else None
    return list(columns), guess


def text_folder(data: TextData) -> str:
    """The stored folder of the text dataset ``data`` (what a run's ``data`` setting points at)."""
    wanted = text_id(data)
    for entry in list_datasets():
        if entry["kind"] == "text" and entry["id"] == wanted:
            return entry["folder"]
    raise TLError(f"The dataset '{data.name}' is not stored in the workspace; import it again.")


def text_audit(folder: str | Path) -> dict:
    """``audit_texts`` of the text dataset stored in ``folder``."""
    return audit_texts(open_texts(folder))


def run_texts(run_dir: str | Path) -> dict[str, str] | None:
    """A text run's texts by their items' paths (as its predictions name them), or None for an image
    run; {} while the run has not read them yet or when its copy is unreadable."""
    path = Path(run_dir) / TEXTS
    if not path.is_file():
        return None
    try:
        texts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return texts if isinstance(texts, dict) else {}
