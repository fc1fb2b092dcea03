"""The suggestions CSV (``python -m tlcore suggest``) and reading it back once a person reviewed it.

Columns: file (the pool image's name), class (the suggestion, or the person's correction), probability
(the calibrated probability of the suggested class), and for a pool of texts, text (the text itself). Every cell goes through
``spreadsheet_safe``, so a file named "=HYPERLINK(...)" stays text in a spreadsheet; reading undoes
that. A row whose class was cleared is not labelled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from tlcore.data.portable import spreadsheet_safe, spreadsheet_text
from tlcore.errors import TLError

COLUMNS = ("file", "class", "probability")
NO_FILE_CLASS = ("{name} needs a 'file' and a 'class' column, as 'python -m tlcore suggest' writes them; "
                 "nothing was labelled.")


def suggestions_csv(rows: Iterable[dict]) -> str:
    """The CSV text of suggestion rows (dicts with name, class, probability, and text for a pool of
    texts: a last column holds it), in their order."""
    rows = list(rows)
    texts = bool(rows) and "text" in rows[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_safe(c) for c in COLUMNS + ("text",) * texts])
    for r in rows:
        writer.writerow([spreadsheet_safe(r["name"]), spreadsheet_safe(r["class"]), f"{r['probability']:.4f}"]
                        + ([spreadsheet_safe(r["text"])] if texts else []))
    return out.getvalue()


def read_labels_csv(text: str, name: str = "the CSV") -> list[tuple[str, str]]:
    """(file, class) pairs of a reviewed suggestions CSV, rows with an empty class left out."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [spreadsheet_text(c).strip().lower() for c in rows[0]] if rows else []
    if "file" not in header or "class" not in header:
        raise TLError(NO_FILE_CLASS.format(name=name))
    f, c = header.index("file"), header.index("class")
    pairs = [(spreadsheet_text(r[f]), spreadsheet_text(r[c]).strip()) for r in rows[1:] if len(r) > max(f, c)]
    pairs = [(file, label) for file, label in pairs if file and label]
    if not pairs:
        raise TLError(f"{name} gives no class for any file; fill in the class column and try again.")
    return pairs
