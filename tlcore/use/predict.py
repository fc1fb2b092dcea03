"""Using a trained model: calibrated class probabilities for image files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import torch

from tlcore.training.augment import BatchPrep
from tlcore.models.bundle import T_MAX, T_MIN, load_bundle
from tlcore.errors import TLError
from tlcore.data.images import ImageProblem, load_square_uint8
from tlcore.data.portable import spreadsheet_safe
from tlcore.record import RecordError, read_share
from tlcore.rundir import RunDir

DEFAULT_TEMPERATURE = 1.0  # a bundle without "temperature" was not calibrated
DEFAULT_NOT_SURE_BELOW = 0.0  # off: every answer is the top class, unless the user sets a rule
BATCH = 32  # images decoded and classified at a time: memory grows by ~17 MB an image in one batch
BAD_TEMPERATURE = ("The model's calibration temperature ({value}) is not a number from {low:g} to {high:g}, as "
                   "training makes it, so its probabilities cannot be trusted; train the model again.")
NOT_NUMBERS = ("The model gives no usable probabilities (they are not numbers), so its weights are damaged; train "
               "the model again.")


def temperature_of(meta: dict) -> float:
    """The bundle's calibration temperature: probabilities are softmax(logits / temperature). Training
    fits it between T_MIN and T_MAX; any other value (not a number, zero, negative, or so small that
    the division overflows and the probabilities come out as nan) is refused."""
    value = meta.get("temperature", DEFAULT_TEMPERATURE)
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and T_MIN <= value <= T_MAX):
        raise TLError(BAD_TEMPERATURE.format(value=str(value)[:12], low=T_MIN, high=T_MAX))
    return float(value)


def not_sure_below_of(meta: dict) -> float:
    """The top probability under which the bundle marks an answer "not sure": 0 (off) for models trained
    since the user chooses the rule; older bundles carry the threshold they were trained with (one
    written as a percent, 70, is read as 0.7; anything else that is not a share is refused)."""
    try:
        return read_share(meta.get("not_sure_below", DEFAULT_NOT_SURE_BELOW), "The model's \"not sure\" threshold")
    except RecordError as e:
        raise TLError(f"{e} Train the model again.") from e


class Predictor:
    """A trained bundle ready to classify images on the CPU."""

    def __init__(self, bundle_dir: str | Path) -> None:
        self.net, self.meta = load_bundle(Path(bundle_dir))
        self.classes: list[str] = self.meta["classes"]
        self.image_size: int = self.meta["image_size"]
        self.temperature = temperature_of(self.meta)
        self._prep = BatchPrep(self.meta["mean"], self.meta["std"], torch.device("cpu"))

    @classmethod
    def from_run(cls, run_dir: str | Path) -> "Predictor":
        return cls(RunDir(run_dir).bundle_path)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N,3,S,S] images (already resized and cropped) -> calibrated probabilities
        [N, classes], as the ONNX export's "probabilities" output computes them."""
        p = (self.net(self._prep(images)) / self.temperature).softmax(1)
        if not torch.isfinite(p).all():
            raise TLError(NOT_NUMBERS)
        return p

    def predict_files(self, paths: list[str | Path], top: int = 3,
                      on_batch: Callable[[int, int], None] | None = None) -> list[dict]:
        """For each file: the ``top`` classes with probabilities, every probability, or the
        reason it could not be read. Files are decoded and classified BATCH at a time, so memory
        stays the same for 10 images or 10,000; ``on_batch(done, total)`` follows along."""
        rows: list[dict] = []
        for start in range(0, len(paths), BATCH):
            good, tensors = [], []
            for path in paths[start:start + BATCH]:
                try:
                    tensors.append(load_square_uint8(path, self.image_size))
                    good.append(len(rows))
                    rows.append({"file": str(path)})
                except ImageProblem as problem:
                    rows.append({"file": str(path), "error": problem.reason})
            if tensors:
                for row_index, p in zip(good, self.probabilities(torch.stack(tensors)).tolist()):
                    ranked = sorted(range(len(p)), key=p.__getitem__, reverse=True)
                    rows[row_index].update(top=[(self.classes[i], p[i]) for i in ranked[:top]],
                                           probabilities=dict(zip(self.classes, p)))
            if on_batch:
                on_batch(len(rows), len(paths))
        return rows


def answer_columns(not_sure_below: float | None) -> list[str]:
    """A results CSV's columns for an answer: its class, its confidence and, with a "not sure" rule
    (``not_sure_below``), whether it is "not sure"; the same for images and texts."""
    return ["predicted", "confidence", *([] if not_sure_below is None else ["not_sure"])]


def answer_cells(best: str, p: float, not_sure_below: float | None) -> list:
    """The ``answer_columns`` cells of an answer ``best`` given with probability ``p``."""
    return [best, f"{p:.6f}", *([] if not_sure_below is None else [p < not_sure_below])]


def results_csv(rows: list[dict], not_sure_below: float | None = None) -> str:
    """``predict_files``' rows as CSV: file, predicted class, confidence, whether it is "not sure"
    (only with ``not_sure_below``), the reason a file could not be read, then every class's
    probability. Names and file names cannot become spreadsheet formulas (``spreadsheet_safe``)."""
    classes = next((list(r["probabilities"]) for r in rows if "probabilities" in r), [])
    answer = answer_columns(not_sure_below)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(map(spreadsheet_safe, ["file", *answer, "error"] + [f"p_{c}" for c in classes]))
    for r in rows:
        if "error" in r:
            cells = [r["file"], *[""] * len(answer), r["error"]] + [""] * len(classes)
        else:
            cells = ([r["file"], *answer_cells(*r["top"][0], not_sure_below), ""]
                     + [f"{r['probabilities'][c]:.6f}" for c in classes])
        writer.writerow(map(spreadsheet_safe, cells))
    return buf.getvalue()
