"""Labelling with the model: what a Label page and the ``suggest``/``label`` commands do.

A dataset (a stored dataset folder, or a folder of class folders) gets an unlabelled pool
(``add_to_pool``); its frozen features are computed once (``compute_features``, with a progress
callback, fit for a background thread); ``suggestions`` trains the frozen head on the labelled
images and returns the pool in the order to ask about it, each with a suggested class and its
calibrated probability, and the precision "accept all at least X% sure" had on held-out labelled
images (``Suggested.accept``). ``confirm``, ``bulk_accept``, ``skip`` and ``undo`` change the
dataset and the label record (tlcore.data.labels); ``accuracy_history`` is the model's expected accuracy
(``Suggestions.expected_accuracy``) against the number of labels, one point each time suggestions were
made for a new count.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlcore.config import DEFAULT_MODEL
from tlcore.data.labels import confirm as _confirm
from tlcore.data.labels import POOL_GONE, how_labelled, read_record, undo_last
from tlcore.data.labels_csv import read_labels_csv, suggestions_csv
from tlcore.data.pool import POOL_FILE, Home, add_texts_to_pool, home, pool_path, read_pool, set_skipped
from tlcore.data.pool import add_to_pool as add_images_to_pool
from tlcore.data.pool_texts import texts_by_sha
from tlcore.data.pool_features import features
from tlcore.errors import TLError

HISTORY = "history.jsonl"
Progress = Callable[[int, int], None] | None

__all__ = ["Suggested", "accuracy_history", "add_to_pool", "add_uploads_to_pool", "apply_labels_csv", "bulk_accept",
           "compute_features", "confirm", "how_labelled", "pool_images", "pool_state", "skip", "suggest_for_run",
           "suggestions", "suggestions_csv", "undo"]


def _size(model: str, image_size: int) -> int:
    from tlcore.models.catalog import get_spec

    return image_size or get_spec(model).size_on("cpu")


def _model(where: Home, model: str) -> str:
    """The model whose features label the pool: for a text dataset, the text model unless ``model``
    reads texts (a page's chosen model may be an image model chosen for an earlier image dataset)."""
    from tlcore.models.catalog import get_spec
    from tlcore.training.text_inputs import TEXT_MODEL

    return TEXT_MODEL if where.text and get_spec(model).kind != "text" else model


def _labelled(where: Home):
    """The labelled images a head learns from: all but the test images."""
    return [i for i in where.dataset().items if i.split != "test"]


def add_to_pool(data: str | os.PathLike, source, label: str = "", progress: Progress = None) -> dict:
    """Add unlabelled examples to the dataset's pool: images (tlcore.data.pool.add_to_pool), or for a
    text dataset a CSV or TSV of texts without a label column (a path, or an upload's (name, bytes))."""
    if home(data).text:
        return add_texts_to_pool(data, source, label)
    return add_images_to_pool(data, source, label, progress)


def pool_images(data: str | os.PathLike) -> list[dict]:
    """The pool's images: name, path (to show it), skipped."""
    where = home(data)
    return [{"name": i.name, "path": str(pool_path(where, i)), "skipped": i.skipped} for i in read_pool(where)]


def add_uploads_to_pool(data: str | os.PathLike, files: Sequence[tuple[str, bytes]],
                        progress: Progress = None) -> dict:
    """Add uploaded files to the pool: each zip (every image in it, at any depth, class folders or not)
    and the image files together. Returns ``add_to_pool``'s report of the last part, its message
    saying what every part added."""
    zips = [(n, b) for n, b in files if n.lower().endswith(".zip")]
    images = [(n, b) for n, b in files if not n.lower().endswith(".zip")]
    reports = []
    with tempfile.TemporaryDirectory(prefix="tlstudio-pool-") as tmp:
        for k, (name, blob) in enumerate(zips):
            path = Path(tmp) / str(k) / (Path(name).name or "upload.zip")
            path.parent.mkdir()
            path.write_bytes(blob)
            reports.append(add_to_pool(data, path, progress=progress))
            path.unlink()
    if images or not zips:
        reports.append(add_to_pool(data, images, progress=progress))
    return reports[-1] | {"message": " ".join(r["message"] for r in reports)}


def pool_state(data: str | os.PathLike) -> dict:
    """How the dataset's pool stands: images (in it now, their files there), given (labels given to
    pool images so far, by a person or in bulk).
    Raises:
        TLError: the pool's images were deleted (the labels given are kept).
    """
    where = home(data)
    listed, given = read_pool(where), len(read_record(where))
    present = sum(pool_path(where, i).is_file() for i in listed)
    if (listed and not present) or (given and not (where.pool_dir / POOL_FILE).is_file()):
        raise TLError(POOL_GONE)
    return {"images": present, "given": given}


def compute_features(data: str | os.PathLike, model: str = DEFAULT_MODEL, image_size: int = 0,
                     progress: Progress = None) -> dict:
    """Compute (once) the frozen features of the dataset's labelled images and its pool; returns
    how many of each have features."""
    where = home(data)
    pool, labelled = read_pool(where), _labelled(where)
    got = _features(where, pool, labelled, _model(where, model), image_size, progress)
    return {"pool": sum(i.sha256 in got for i in pool), "labelled": sum(i.sha256 in got for i in labelled)}


def _features(where: Home, pool: list, labelled: list, model: str, image_size: int,
              progress: Progress) -> dict[str, np.ndarray]:
    """The features of pool and labelled images (or texts) by sha256, computed once (tlcore.data.pool_features)."""
    if where.text:
        texts = texts_by_sha(where.data)
        files = [(pool_path(where, i).read_text(encoding="utf-8"), i.sha256) for i in pool
                 if pool_path(where, i).is_file()] + [(texts[i.sha256], i.sha256) for i in labelled]
        return features(where.pool_dir, files, model, _size(model, image_size), progress)
    files = [(str(pool_path(where, i)), i.sha256) for i in pool] + [(i.path, i.sha256) for i in labelled]
    return features(where.pool_dir, files, model, _size(model, image_size), progress)


@dataclass
class Suggested:
    """The pool in the order to ask about it, each row with its suggested class and probability."""

    rows: list[dict]  # name, path, class, probability, skipped; in the order to ask
    classes: list[str]
    labels: int  # labelled images the head learned from
    expected: float | None  # the accuracy the model expects on the pool; None where not measured
    _suggestions: object

    def accept(self, threshold: float) -> dict:
        """What "accept all at least ``threshold`` sure" would take, with the precision that
        threshold had on held-out labelled images (None, with a reason line, when not measured)."""
        return self._suggestions.accept(threshold)


def suggestions(data: str | os.PathLike, model: str = DEFAULT_MODEL, image_size: int = 0, seed: int = 0,
                batch: int = 10, progress: Progress = None) -> Suggested:
    """Suggestions for the whole pool, skipped images last, and a point of the accuracy history."""
    from tlcore.training.suggest import check_counts, suggest

    where = home(data)
    pool, labelled = [i for i in read_pool(where) if pool_path(where, i).is_file()], _labelled(where)
    ds_classes = where.dataset().classes
    thing = "text" if where.text else "image"
    check_counts(len(pool), np.array([ds_classes.index(i.label) for i in labelled]), ds_classes, thing)  # at once
    got = _features(where, pool, labelled, _model(where, model), image_size, progress)
    pool = [i for i in pool if i.sha256 in got]
    labelled = [i for i in labelled if i.sha256 in got]
    dim = len(next(iter(got.values()))) if got else 0
    x = np.array([got[i.sha256] for i in labelled], dtype=np.float32).reshape(-1, dim)
    px = np.array([got[i.sha256] for i in pool], dtype=np.float32).reshape(-1, dim)
    y = np.array([ds_classes.index(i.label) for i in labelled], dtype=np.int64)
    s = suggest(x, y, px, ds_classes, seed, batch, thing)
    order = [k for k in s.order if not pool[k].skipped] + [k for k in s.order if pool[k].skipped]
    rows = [{"name": pool[k].name, "path": str(pool_path(where, pool[k])), "class": ds_classes[s.suggested[k]],
             "probability": float(s.probability[k]), "skipped": pool[k].skipped} for k in order]
    if where.text:  # what a person reads to check the suggestion
        rows = [r | {"text": Path(r["path"]).read_text(encoding="utf-8")} for r in rows]
    expected = s.expected_accuracy()
    _add_history(where, len(y), expected)
    return Suggested(rows, ds_classes, len(y), expected, s)


def _add_history(where: Home, labels: int, expected: float | None) -> None:
    points = accuracy_history(where.data)
    if points and points[-1]["labels"] == labels:
        return
    with open(where.folder / HISTORY, "a", encoding="utf-8") as f:
        f.write(json.dumps({"labels": labels, "expected": expected, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
                + "\n")


def accuracy_history(data: str | os.PathLike) -> list[dict]:
    """Expected accuracy against the number of labels: {labels, expected (None: not measured), when}
    (a dataset labelled before 2026-12-07 also has points with "accuracy", cross-validated on the labels
    given, which read low and are not drawn)."""
    try:
        lines = (home(data).folder / HISTORY).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            point = json.loads(line)
        except ValueError:
            continue
        if isinstance(point, dict) and isinstance(point.get("labels"), int):  # a hand-edited line is left out
            out.append(point)
    return out


def confirm(data: str | os.PathLike, labels: Sequence[tuple[str, str]]) -> dict:
    """A person's labels for pool images (name, class), as one batch."""
    return _confirm(data, labels, "person")


def bulk_accept(data: str | os.PathLike, suggested: Suggested, threshold: float) -> dict:
    """Accept every suggestion at least ``threshold`` sure, recorded with the precision stated for it."""
    chosen = [(r["name"], r["class"]) for r in suggested.rows if r["probability"] >= threshold]
    if not chosen:
        raise TLError(f"No suggestion is at least {threshold:.0%} sure; lower the threshold or label by hand.")
    return _confirm(data, chosen, "bulk", threshold, suggested.accept(threshold)["precision"])


def skip(data: str | os.PathLike, names: Sequence[str]) -> int:
    """Ask about these pool images last; returns how many were marked."""
    return set_skipped(data, names)


def undo(data: str | os.PathLike) -> dict:
    """Take the last batch of labels back into the pool."""
    return undo_last(data)


def apply_labels_csv(data: str | os.PathLike, csv_path: str | os.PathLike) -> dict:
    """Apply a reviewed suggestions CSV (file, class) as a person's labels."""
    path = Path(csv_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise TLError(f"The file {path} does not exist; give the CSV that 'suggest' wrote.") from err
    except (UnicodeDecodeError, IsADirectoryError) as err:
        raise TLError(f"{path.name} is not a CSV text file; give the CSV that 'suggest' wrote.") from err
    return confirm(data, read_labels_csv(text, path.name))


def suggest_for_run(run: str | os.PathLike, pool: str | os.PathLike, seed: int = 0) -> tuple[Suggested, dict]:
    """Add the images in ``pool`` (a folder or zip) to the pool of the dataset run ``run`` trained on,
    and suggest with that run's model and image size; returns the suggestions and what was added."""
    from tlcore.rundir import RunDir
    from tlcore.training.inputs import image_size_for

    cfg = RunDir(run).record().config
    added = add_to_pool(cfg.data, pool)
    return suggestions(cfg.data, cfg.model, image_size_for(cfg, "cpu"), seed), added
