"""Text datasets: a table (CSV or TSV) with a column of texts and a column of their labels, or a folder
or zip of class folders holding ``.txt`` files (one example a file; ``train/``, ``val/``, ``test/`` on
top honoured as for images). A table's ``split`` column (train, val or test) is honoured too.

Texts are kept exactly as written: HTML tags, Markdown and any other markup are characters of the
text, never interpreted. Rows and files that cannot be used are left out with one sentence saying
how many and why (``TextData.notes``); a table that cannot be used at all is refused in one line.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tlcore.data.dataset import _SPLIT_NAMES, _class_folders, _place, _unwrap, unpacked_once
from tlcore.data.folders import subfolders, walk
from tlcore.data.names import class_name, same_name
from tlcore.data.encoding import WESTERN, NotText, decode_text, encoding_note
from tlcore.data.leakage import plural
from tlcore.errors import TLError

TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
MAX_TABLE_BYTES = 100 * 2**20  # far more than a few hundred examples a class; pandas needs ~10x in memory
MAX_FILE_BYTES = 2**20  # one example a .txt file: a message or an article, not a book
LABEL_NAMES = ("label", "labels", "class", "category", "target", "section", "sentiment", "intent", "tag", "topic")
TEXT_NAMES = ("text", "texts", "sentence", "review", "message", "content", "body", "description", "comment",
              "utterance", "document", "title")
SPLIT_COLUMN = "split"
MAX_LABEL_SHARE = 0.5  # a label column repeats its values: at most half the rows hold distinct ones
ROWS_LEFT_OUT = "{rows} with no {missing} {were} left out ({which})."
NO_USABLE_TEXTS = "No usable texts were found in {where}."
ONE_LABEL = ("Every text in {where} has the same label ('{label}'); at least two classes are needed to train a "
             "classifier.")
TABLE_TOO_LARGE = ("{name} is {mb:,.0f} MB; tables up to {limit} MB can be imported. Keep fewer rows (a few hundred "
                   "a class is plenty) and import it again.")
BINARY_TABLE = "{name} is not a table of texts: it holds binary data. Save it as CSV and import it again."
ONE_COLUMN = ("{name} has only one column ({listed}); it needs a column of texts and a column of their labels "
              "(the class of each text).")
FILES_LEFT_OUT = "{files} {were} left out: {which}{more}."
BINARY_FILE = "holds binary data, not text"
LABEL_TWINS = ("The labels '{first}' and '{second}' differ only in upper and lower case; write them the same "
               "way if they are one class, or rename one of them.")
EMPTY_TABLE = "{name} is empty."
NOT_A_TABLE = ("{name} could not be read as a table{where}: a row has more cells than the header. A text with "
               "commas must be in double quotes.")
AT_LINE = " at line {line}"
NO_COLUMN = "{name} has no column '{given}'; its columns are {listed}."
UNSURE_COLUMNS = ("Which column of {name} holds the texts and which their labels could not be told (columns: "
                  "{listed}); choose the text column and the label column.")
BAD_SPLIT = "The split column of {name} says '{value}' in row {row}; it may only say train, val or test (or be empty)."
NOT_TEXTS = "{name} is not a table (.csv or .tsv), a folder or a .zip file of texts."
EMPTY_FILE = "is empty"
NOT_TXT = "is not a .txt file"
CUT = ("{texts} {are} longer than the model reads ({limit} tokens, about {words} words); only the beginning of "
       "{which} is used.")


@dataclass(frozen=True)
class TextItem:
    """One example: its text as written, its class, its split ("" until assigned) and where it came
    from (a file's path, or "row N" of a table as a spreadsheet numbers it)."""

    text: str
    label: str
    split: str
    origin: str


@dataclass
class TextData:
    """Labelled texts, their sorted classes, and what was left out or assumed in reading them, one
    plain sentence each. ``columns``: a table's (text, label) columns."""

    name: str
    classes: list[str]
    items: list[TextItem]
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, str] | None = None

    def counts(self, split: str | None = None) -> dict[str, int]:
        """Examples per class (every class listed), in one split or in all."""
        found = Counter(i.label for i in self.items if split is None or i.split == split)
        return {c: found[c] for c in self.classes}


def _rows(numbers: list[int], shown: int = 5) -> str:
    listed = ", ".join(map(str, numbers[:shown]))
    return f"{'row' if len(numbers) == 1 else 'rows'} {listed}{' …' if len(numbers) > shown else ''}"


def _left_out(rows: list[int], missing: str) -> str:
    """'2 rows with no label were left out (rows 4, 9).' ("" for no rows)."""
    if not rows:
        return ""
    return ROWS_LEFT_OUT.format(rows=plural(len(rows), 'row'), missing=missing,
                                were='was' if len(rows) == 1 else 'were', which=_rows(rows))


def checked(data: TextData, where: str) -> TextData:
    """``data`` when it can teach a classifier something, else a TLError saying what to fix."""
    left = " ".join(data.notes)
    if not data.items:
        raise TLError(NO_USABLE_TEXTS.format(where=where) + (' ' + left if left else ''))
    if len(data.classes) < 2:
        raise TLError(ONE_LABEL.format(where=where, label=data.classes[0]))
    return data


def refuse_label_twins(labels: list[str]) -> None:
    """A TLError naming the first two ``labels`` that differ only in upper and lower case (one class
    written two ways, most likely)."""
    seen: dict[str, str] = {}
    for label in labels:
        other = seen.setdefault(same_name(label), label)
        if other != label:
            raise TLError(LABEL_TWINS.format(first=other, second=label))


def table_too_large(name: str, size: int) -> TLError:
    """The refusal of a table of ``size`` bytes, larger than MAX_TABLE_BYTES."""
    return TLError(TABLE_TOO_LARGE.format(name=name, mb=size / 2**20, limit=MAX_TABLE_BYTES // 2**20))


def table_text(path: Path, name: str) -> tuple[str, str]:
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise table_too_large(name, size)
    data = path.read_bytes()
    try:
        return decode_text(data, name)
    except NotText as e:
        if "binary" in str(e):
            raise TLError(BINARY_TABLE.format(name=name)) from None
        raise


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def table_frame(path: Path, text: str, name: str):
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), sep=_delimiter(path, text), dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise TLError(EMPTY_TABLE.format(name=name)) from None
    except (pd.errors.ParserError, ValueError) as e:
        line = re.search(r"line (\d+)", str(e))
        where = AT_LINE.format(line=line.group(1)) if line else ""
        raise TLError(NOT_A_TABLE.format(name=name, where=where)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _mean_length(values: list[str]) -> float:
    return sum(map(len, values)) / max(len(values), 1)


def guess_columns(columns: dict[str, list[str]]) -> tuple[str, str] | None:
    """(text column, label column) when they are obvious, else None: by their names (``text``,
    ``label`` and the like), else by their contents: labels repeat (at most half the rows hold
    distinct values), texts are the longest, at least twice as long as any other column."""
    lower = {c.lower(): c for c in columns}
    named_text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    named_label = next((lower[n] for n in LABEL_NAMES if n in lower), None)
    if named_text and named_label:
        return named_text, named_label
    rows = max((len(v) for v in columns.values()), default=0)
    lengths = {c: _mean_length(v) for c, v in columns.items()}
    text = named_text or max(lengths, key=lengths.get)
    others = sorted((lengths[c] for c in columns if c != text), reverse=True)
    if not named_text and others and lengths[text] < 2 * others[0]:
        return None
    repeating = [c for c, v in columns.items() if c != text and 2 <= len(set(v) - {""}) <= MAX_LABEL_SHARE * rows]
    label = named_label or (min(repeating, key=lambda c: len(set(columns[c]))) if repeating else None)
    return (text, label) if label else None


def _pick_columns(name: str, columns: dict[str, list[str]], text_column: str | None,
                  label_column: str | None) -> tuple[str, str]:
    listed = ", ".join(f"'{c}'" for c in columns)
    for given in (text_column, label_column):
        if given is not None and given not in columns:
            raise TLError(NO_COLUMN.format(name=name, given=given, listed=listed))
    if text_column and label_column:
        if text_column == label_column:
            raise TLError("The text column and the label column must be two different columns.")
        return text_column, label_column
    if len(columns) < 2:
        raise TLError(ONE_COLUMN.format(name=name, listed=listed))
    guess = guess_columns({c: v for c, v in columns.items()
                           if c.lower() != SPLIT_COLUMN and c not in (text_column, label_column)}
                          | ({text_column: columns[text_column]} if text_column else {})
                          | ({label_column: columns[label_column]} if label_column else {}))
    if guess is None or (text_column and guess[0] != text_column) or (label_column and guess[1] != label_column):
        raise TLError(UNSURE_COLUMNS.format(name=name, listed=listed))
    return guess


def _split_of(value: str, name: str, row: int) -> str:
    key = value.strip().lower()
    if not key:
        return ""
    if key not in _SPLIT_NAMES:
        raise TLError(BAD_SPLIT.format(name=name, value=value.strip(), row=row))
    return _SPLIT_NAMES[key]


def read_table(path: str | os.PathLike, text_column: str | None = None,
               label_column: str | None = None, name: str | None = None) -> TextData:
    """Labelled texts from a CSV or TSV file whose first row names its columns. The text and label
    columns are guessed when not given and obvious; rows with an empty text or label are left out
    (``notes`` says how many, and which rows). ``name``: the file's name in sentences and the
    dataset's (its stem), when it is not ``path``'s own (an upload kept under another name)."""
    path = Path(path)
    name = name or path.name
    text, encoding = table_text(path, name)
    frame = table_frame(path, text, name)
    columns = {c: frame[c].tolist() for c in frame.columns}
    text_col, label_col = _pick_columns(name, columns, text_column, label_column)
    split_col = next((c for c in columns if c.lower() == SPLIT_COLUMN and c not in (text_col, label_col)), None)
    items, no_text, no_label = [], [], []
    for k, (body, label) in enumerate(zip(columns[text_col], columns[label_col])):
        row = k + 2  # as a spreadsheet numbers it: the header is row 1
        if not label.strip():
            no_label.append(row)
        elif not body.strip():
            no_text.append(row)
        else:
            split = _split_of(columns[split_col][k], name, row) if split_col else ""
            items.append(TextItem(body.strip(), class_name(label.strip(), "label"), split, f"row {row}"))
    notes = [n for n in (encoding_note(name, encoding), _left_out(no_label, "label"), _left_out(no_text, "text"))
             if n]
    refuse_label_twins(sorted({i.label for i in items}))
    data = TextData(Path(name).stem, sorted({i.label for i in items}), items, notes, (text_col, label_col))
    return checked(data, name)


def read_text_folder(root: str | os.PathLike, name: str | None = None) -> TextData:
    """Labelled texts from ``root/<class>/<file>.txt`` or ``root/{train,val,test}/<class>/<file>.txt``.
    Files that are not usable text (other kinds, binary data, an unknown encoding, empty, too large)
    are left out, and ``notes`` says which and why."""
    given = Path(root).expanduser().resolve()
    if not given.is_dir():
        raise TLError(f"The folder {given} does not exist.")
    top = _unwrap(given)
    split_layout = any(_SPLIT_NAMES.get(d.name.strip().lower()) and subfolders(d) for d in subfolders(top))
    _class_folders(top, split_layout)  # a control character or a twin in another case stops at once
    items, skipped, western = [], [], []
    for path in walk(top, []):
        where = _place(path.relative_to(top).parts, split_layout)
        read = where if isinstance(where, str) else _txt_problem(path)
        if isinstance(read, str):  # why it cannot be an example
            skipped.append(f"{path.name} {read}")
            continue
        body, encoding = read
        if encoding == WESTERN:
            western.append(path.name)
        items.append(TextItem(body, where[0], where[1], str(path)))
    notes = []
    if western:
        notes.append(encoding_note(western[0], WESTERN) if len(western) == 1 else
                     f"{len(western)} files are not saved as UTF-8 (for example {western[0]}); they were read as "
                     "Windows-1252 (Western European). If some letters look wrong, save them as UTF-8.")
    if skipped:
        more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        notes.append(FILES_LEFT_OUT.format(files=plural(len(skipped), 'file'),
                                           were='was' if len(skipped) == 1 else 'were',
                                           which='; '.join(skipped[:3]), more=more))
    data = TextData(name or given.name, sorted({i.label for i in items}), items, notes)
    return checked(data, name or given.name)


def _txt_problem(path: Path) -> str | tuple[str, str]:
    """A ``.txt`` file's (text, encoding), or why it cannot be an example (a phrase after its name)."""
    if path.suffix.lower() != ".txt":
        return NOT_TXT
    if path.stat().st_size > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES // 2**20} MB (one file holds one example: a message or a page)"
    try:
        body, encoding = decode_text(path.read_bytes(), path.name)
    except NotText as e:
        return BINARY_FILE if "binary" in str(e) else "is not saved as UTF-8"
    if not body.strip():
        return EMPTY_FILE
    return body.strip(), encoding


def read_texts(path: str | os.PathLike, datasets_dir: str | os.PathLike, text_column: str | None = None,
               label_column: str | None = None) -> TextData:
    """Labelled texts from a table (.csv, .tsv), a folder of class folders, or a zip of one
    (unpacked once into ``datasets_dir``, by its content)."""
    source = Path(path).expanduser()
    if not source.exists():
        raise TLError(f"The path {source} does not exist. Check it, or choose the file again.")
    if source.is_dir():
        return read_text_folder(source)
    suffix = source.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return read_table(source, text_column, label_column)
    if suffix != ".zip":
        raise TLError(NOT_TEXTS.format(name=source.name))
    return read_text_folder(unpacked_once(source, datasets_dir), source.stem)


def cut_note(lengths: list[int], limit: int) -> str:
    """The sentence that says how many texts are longer than the model reads ("" when none is):
    ``lengths`` in tokens (``tlcore.models.text_net.TextTokenizer.lengths``), ``limit`` the model's."""
    cut = sum(n > limit for n in lengths)
    if not cut:
        return ""
    words = round(limit * 0.75 / 10) * 10  # English runs about 4 tokens to 3 words
    return CUT.format(texts=plural(cut, 'text'), are='is' if cut == 1 else 'are', limit=limit, words=words,
                      which='it' if cut == 1 else 'each')
