"""Using a trained text model: calibrated class probabilities for texts typed, in .txt files (one
text a file, as in training) or in a table's column of texts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from tlcore.data.encoding import NotText, decode_text
from tlcore.data.names import printable
from tlcore.data.portable import spreadsheet_safe
from tlcore.data.texts import MAX_FILE_BYTES, TABLE_SUFFIXES, TEXT_NAMES, table_frame, table_text
from tlcore.errors import TLError
from tlcore.models.bundle import TOKENIZER, load_bundle
from tlcore.models.text_net import TextTokenizer
from tlcore.use.predict import answer_cells, answer_columns, temperature_of

BATCH = 32  # texts classified at a time


def is_text_model(meta: dict) -> bool:
    """Whether a bundle's model.json describes a text model."""
    return meta.get("catalog", {}).get("kind") == "text"


class TextPredictor:
    """A trained text bundle ready to classify texts on the CPU."""

    def __init__(self, bundle_dir: str | Path) -> None:
        bundle_dir = Path(bundle_dir)
        self.net, self.meta = load_bundle(bundle_dir)
        self.classes: list[str] = self.meta["classes"]
        self.temperature = temperature_of(self.meta)
        if not (bundle_dir / TOKENIZER).is_file():
            raise TLError(f"The model's tokenizer ({TOKENIZER}) is missing beside it; train the model again.")
        self.tokenizer = TextTokenizer(bundle_dir / TOKENIZER, self.meta["catalog"]["max_tokens"])

    @torch.no_grad()
    def probabilities(self, texts: list[str], batch: int = BATCH) -> torch.Tensor:
        """Calibrated probabilities [texts, classes], as the ONNX export's "probabilities" output
        computes them, ``batch`` texts at a time."""
        out = [(self.net(self.tokenizer(texts[i:i + batch]).ids) / self.temperature).softmax(1)
               for i in range(0, len(texts), batch)]
        p = torch.cat(out) if out else torch.empty(0, len(self.classes))
        if not torch.isfinite(p).all():
            raise TLError("The model gives no usable probabilities (they are not numbers), so its weights are "
                          "damaged; train the model again.")
        return p

    def predict_texts(self, texts: list[str], top: int = 3) -> list[dict]:
        """For each text: the ``top`` classes with probabilities, and every probability."""
        rows = []
        for text, p in zip(texts, self.probabilities(texts).tolist()):
            ranked = sorted(range(len(p)), key=p.__getitem__, reverse=True)
            rows.append({"text": text, "top": [(self.classes[i], p[i]) for i in ranked[:top]],
                         "probabilities": dict(zip(self.classes, p))})
        return rows


def _table_column(path: Path, column: str) -> list[str]:
    """The texts of a table: ``column``, else its only column, else the one named like texts
    ("text", "review", ...), else the one with the longest values."""
    frame = table_frame(path, table_text(path, path.name)[0], path.name)
    names = list(frame.columns)
    if column and column not in names:
        raise TLError(f"{path.name} has no column '{column}'; its columns are {', '.join(map(repr, names))}.")
    lower = {c.lower(): c for c in names}
    chosen = column or (names[0] if len(names) == 1 else next((lower[n] for n in TEXT_NAMES if n in lower), None))
    if chosen is None:
        chosen = max(names, key=lambda c: sum(map(len, frame[c])) / max(len(frame), 1))
    return [t.strip() for t in frame[chosen].tolist() if t.strip()]


def texts_from(files: list[str], column: str = "") -> list[str]:
    """The texts to classify in ``files``: a .txt file is one text, a table (.csv, .tsv) gives its
    column of texts (``column``, or guessed)."""
    texts = []
    for name in files:
        path = Path(name).expanduser()
        if not path.is_file():
            raise TLError(f"{name} does not exist; give .txt files, a table (.csv or .tsv) or --text \"...\".")
        if path.suffix.lower() in TABLE_SUFFIXES:
            texts += _table_column(path, column)
        elif path.suffix.lower() == ".txt" and path.stat().st_size <= MAX_FILE_BYTES:
            try:
                texts.append(decode_text(path.read_bytes(), path.name)[0].strip())
            except NotText:
                raise TLError(f"{path.name} is not a text file (it holds binary data or an unknown encoding); "
                              "save it as UTF-8 text.") from None
        else:
            raise TLError(f"{path.name} is not a .txt file or a table (.csv, .tsv) of texts, or is larger than "
                          f"{MAX_FILE_BYTES // 2**20} MB.")
    return texts


def printed_rows(rows: list[dict]) -> str:
    """``text,class,probability`` lines, as the model card's script prints them: each text escaped to
    one line (``printable``) and no cell a spreadsheet formula (``spreadsheet_safe``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for r in rows:
        best, p = r["top"][0]
        writer.writerow([spreadsheet_safe(printable(r["text"])), spreadsheet_safe(printable(best)), f"{p:.6f}"])
    return buf.getvalue()


def text_results_csv(rows: list[dict], not_sure_below: float | None = None) -> str:
    """``predict_texts``' rows as CSV: text, predicted class, confidence, whether it is "not sure"
    (only with ``not_sure_below``), then every class's probability, as ``results_csv`` writes images'
    rows; no cell can become a spreadsheet formula."""
    classes = list(rows[0]["probabilities"]) if rows else []
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(map(spreadsheet_safe, ["text", *answer_columns(not_sure_below)] + [f"p_{c}" for c in classes]))
    for r in rows:
        writer.writerow(map(spreadsheet_safe, [r["text"], *answer_cells(*r["top"][0], not_sure_below)]
                            + [f"{r['probabilities'][c]:.6f}" for c in classes]))
    return buf.getvalue()
