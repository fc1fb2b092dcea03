"""A trained text model at the front door: classify a typed text or an uploaded table of texts,
the results as a CSV safe to open in a spreadsheet, which words moved its answer for one text
(``word_effects``), and its ONNX file with the tokenizer beside it."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from tlcore.models.bundle import TOKENIZER
from tlcore.rundir import RunDir
from tlcore.use.predict_text import TextPredictor, text_results_csv, texts_from
from tlcore.use.text_words import WordEffects, word_effects

__all__ = ["TextPredictor", "WordEffects", "load_text_predictor", "predict_text_table", "text_onnx_zip",
           "text_results_csv", "word_effects"]


def load_text_predictor(run_folder: str | Path) -> TextPredictor:
    """The run's trained text model, ready to classify texts."""
    return TextPredictor(RunDir(run_folder).bundle_path)


def predict_text_table(predictor: TextPredictor, data: bytes, filename: str, top: int) -> list[dict]:
    """Predictions for the texts of an uploaded table (.csv, .tsv: its column of texts, guessed) or
    .txt file (one text), one row a text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(filename).name or "texts.csv")
        path.write_bytes(data)
        return predictor.predict_texts(texts_from([str(path)]), top=top)


def text_onnx_zip(run: RunDir) -> bytes:
    """The run's ONNX export (made beforehand: ``export_to_run``) and the tokenizer.json it needs, in one
    zip, in a folder named for the run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(run.export_path("onnx"), f"{run.name}/model.onnx")
        zf.write(run.bundle_path / TOKENIZER, f"{run.name}/{TOKENIZER}")
    return buf.getvalue()
