"""Texts without a label for a stored text dataset's pool (tlcore.data.pool keeps them as it keeps
images: one file a text in ``pool/files/``, named by its sha256), and the dataset's labelled texts
seen as the labelling sees images (tlcore.data.dataset.Item: its class, split and sha256 of its text).

A CSV or TSV of unlabelled texts needs a column of texts: the one named like one (``text``,
``review``...), the only column, or the one with the longest texts; any other column is ignored.
Each text is named after its row, as a spreadsheet numbers it ("tickets.csv row 2").
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

from tlcore.data.dataset import Dataset, Item
from tlcore.data.texts import TABLE_SUFFIXES, TEXT_NAMES, TextItem, table_frame, table_text
from tlcore.data.texts_store import open_texts, save_texts
from tlcore.errors import TLError

NOT_A_TEXT_TABLE = "{name} is not a table (.csv or .tsv); give a CSV with a column of texts."
NO_TEXTS = "{name} holds no text in any row; nothing was added to the unlabelled pool."


def text_sha(text: str) -> str:
    """The sha256 of a text, as a text run's dataset records it (tlcore.training.text_inputs)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def labelled_texts(folder: str | os.PathLike) -> Dataset:
    """The stored text dataset's labelled texts as items (path: where each came from; sha256: its text's)."""
    data = open_texts(folder)
    items = [Item(t.origin, t.label, t.split, text_sha(t.text), 0, 0) for t in data.items]
    return Dataset.create(data.name, str(folder), items, classes=data.classes)


def texts_by_sha(folder: str | os.PathLike) -> dict[str, str]:
    """The stored text dataset's texts by the sha256 of each."""
    return {text_sha(t.text): t.text for t in open_texts(folder).items}


def unlabelled_rows(path: str | os.PathLike, name: str = "") -> list[tuple[str, str]]:
    """(name, text) of every row with a text of a CSV or TSV file (the name: "<file> row N")."""
    path = Path(path)
    name = name or path.name
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise TLError(NOT_A_TEXT_TABLE.format(name=name))
    frame = table_frame(path, table_text(path, name)[0], name)
    columns = {c: frame[c].tolist() for c in frame.columns}
    lower = {c.lower(): c for c in columns}
    column = next((lower[n] for n in TEXT_NAMES if n in lower), None) or max(
        columns, key=lambda c: sum(map(len, columns[c])), default=None)
    rows = [(f"{name} row {k + 2}", t.strip()) for k, t in enumerate(columns.get(column, [])) if t.strip()]
    if not rows:
        raise TLError(NO_TEXTS.format(name=name))
    return rows


def add_labelled(folder: Path, texts: list[tuple[str, str, str]]) -> None:
    """Add (name, text, class) to the stored text dataset (each text's origin: its pool name)."""
    data = open_texts(folder)
    new = [TextItem(text, label, "", name) for name, text, label in texts]
    save_texts(replace(data, items=data.items + new), folder)


def remove_labelled(folder: Path, taken: list[tuple[str, str]]) -> dict[str, str]:
    """Take the texts (origin, sha256) out of the stored text dataset; returns their texts by sha256."""
    data, wanted = open_texts(folder), set(taken)
    gone = {text_sha(t.text): t.text for t in data.items if (t.origin, text_sha(t.text)) in wanted}
    kept = [t for t in data.items if (t.origin, text_sha(t.text)) not in wanted]
    save_texts(replace(data, items=kept), folder)
    return gone
