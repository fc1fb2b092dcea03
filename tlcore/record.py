"""The run record's typed parts: what config.json, status.json, an epoch event and metrics.json hold.

Each part is a frozen dataclass with a strict JSON round-trip: ``from_json`` refuses unknown keys,
missing required keys and values of the wrong type with a ``RecordError`` that names the file,
so a hand-edited or damaged record damages its own run only. ``RunDir`` (rundir.py) is the only
code that knows which file holds which part.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from tlcore.config import TrainConfig
from tlcore.errors import TLError

# A worker writes "interrupted" when it is told to end (SIGTERM, SIGINT); RunDir.status also
# reports it for a worker that died. "damaged" is only reported: its status file cannot be read.
INTERRUPTED, DAMAGED = "interrupted", "damaged"
STATES = ("queued", "running", "finished", "failed", "cancelled", INTERRUPTED)
ACTIVE = ("queued", "running")
SPLITS = {"val": "validation images", "cv": "cross-validation", "test": "test images"}
UNITS = ("images", "texts")  # what a score counts
IN_TEXTS = {"images": "texts", "image": "text", "Images": "Texts", "Image": "Text", "pictures": "texts",
            "picture": "text"}
WRONG_KIND = "{where}: the entry '{name}' has a value of the wrong kind ({value!r:.40})."
CHECKED_WITHOUT = "{images} images, each checked by a model trained without it"
WITH_COPIES = "{where}, {copies} of them {copied}"
COPY_OF_TRAINING, COPIES_OF_TRAINING = "a copy of a training image", "copies of training images"
LEAKED = ("{copies} of the {images} {split} {are_copies} of {images_trained} the model trained on, so this score is "
          "likely too high. Remove the copies on the Data page and train again for an honest score.")
NOT_A_SHARE = "{what} ({value}) is not a share between 0 and 1 (nor a percent up to 100)."


class RecordError(TLError):
    """A run's record file is missing a part, holds an unknown one, or is not valid JSON."""


def _typecheck(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a (simple) type hint: scalars, lists, dicts, unions, Any."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_typecheck(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list or hint is list:
        return isinstance(value, list)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        return isinstance(value, (hint, dict)) if is_dataclass(hint) else isinstance(value, hint)
    return True


def strict_fields(cls: type, data: Any, where: str) -> dict:
    """``data``'s fields for ``cls`` after checking keys and types; RecordError naming ``where``."""
    if not isinstance(data, dict):
        raise RecordError(f"{where} does not hold a JSON object.")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    missing = sorted(n for n, f in known.items()
                     if n not in data and f.default is MISSING and f.default_factory is MISSING)
    if unknown or missing:
        parts = ([f"unknown entries {', '.join(unknown)}"] if unknown else []) + (
            [f"missing entries {', '.join(missing)}"] if missing else [])
        raise RecordError(f"{where} has {' and '.join(parts)}.")
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        if not _typecheck(value, hints[name]):
            raise RecordError(WRONG_KIND.format(where=where, name=name, value=value))
    return dict(data)


def in_texts(sentence: str) -> str:
    """A sentence the studio words for images (scores, calibration, advice), worded for texts."""
    return re.sub(r"\b(images?|Images?|pictures?)\b", lambda m: IN_TEXTS[m[0]], sentence)


@dataclass(frozen=True)
class DatasetRef:
    """Which stored dataset a run trained on."""

    id: str
    name: str
    classes: list[str]


@dataclass(frozen=True)
class RunRecord:
    """config.json: the settings used (recommendations filled in), the settings asked for, and
    everything needed to reproduce and describe the run."""

    config: TrainConfig
    requested: TrainConfig
    created: float
    environment: dict
    parent: str = ""
    dataset: DatasetRef | None = None
    recommendation: dict | None = None
    plan: dict | None = None  # the Plan it follows (tlcore.jobs.plan), once decided
    labels: dict | None = None  # how the dataset's labels were made (tlcore.data.labels.labels_made)

    def to_json(self) -> dict:
        out = asdict(self)
        out["config"], out["requested"] = self.config.to_json(), self.requested.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "config.json") -> "RunRecord":
        d = strict_fields(cls, data, where)
        try:
            d["config"], d["requested"] = TrainConfig.from_json(d["config"]), TrainConfig.from_json(d["requested"])
        except (TLError, TypeError) as e:
            raise RecordError(f"{where} holds settings that cannot be used: {e}") from e
        if d.get("dataset") is not None:
            d["dataset"] = DatasetRef(**strict_fields(DatasetRef, d["dataset"], f"{where} (dataset)"))
        return cls(**d)


@dataclass(frozen=True)
class Status:
    """status.json: where the run is. ``state`` is one of STATES as written, or INTERRUPTED /
    DAMAGED as ``RunDir.status`` reports it for a dead worker or an unreadable file."""

    state: str
    heartbeat: float = 0.0
    pid: int | None = None
    created: float = 0.0
    message: str = ""
    error: str | None = None
    epoch: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "status.json") -> "Status":
        d = strict_fields(cls, data, where)
        if d["state"] not in STATES:
            raise RecordError(f"{where}: '{d['state']}' is not a run state.")
        return cls(**d)


@dataclass(frozen=True)
class SplitMetrics:
    """Scores of one model on one set of images (scikit-learn's, see metrics.py)."""

    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    per_class: dict
    classes: list[str]
    confusion_matrix: list
    count: int
    loss: float | None = None

    def to_json(self) -> dict:
        out = asdict(self)
        if self.loss is None:
            del out["loss"]
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "metrics") -> "SplitMetrics":
        return cls(**strict_fields(cls, data, where))


@dataclass(frozen=True)
class EpochEvent:
    """One line of events.jsonl written after each epoch: training and held-out scores.

    ``held_out`` names what ``val`` was measured on: "val" (the validation images) or "cv"
    (each image scored by the fold model that did not train on it)."""

    epoch: int
    epochs: int
    lr: float
    seconds: float
    train: SplitMetrics
    val: SplitMetrics
    images_per_second: float
    fast_path: bool
    time: float = 0.0
    type: str = "epoch"
    held_out: str = "val"

    def to_json(self) -> dict:
        return {**asdict(self), "train": self.train.to_json(), "val": self.val.to_json()}

    @classmethod
    def from_json(cls, data: Any, where: str = "events.jsonl") -> "EpochEvent":
        d = strict_fields(cls, data, where)
        d["train"] = SplitMetrics.from_json(d["train"], f"{where} (train)")
        d["val"] = SplitMetrics.from_json(d["val"], f"{where} (val)")
        return cls(**d)


@dataclass(frozen=True)
class Score:
    """A model's one score: accuracy on a named split, with a 95% interval and its image count.

    ``copies``: how many of those images copy a training image (for cross-validation: another of
    the images), which makes the score too high; None for a run recorded before it was counted.
    ``unit``: what was scored, "images" or "texts" (``images`` counts them), as its sentences say."""

    split: str
    accuracy: float
    low: float
    high: float
    images: int
    method: str
    copies: int | None = None
    unit: str = "images"

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise RecordError(f"'{self.split}' is not a split a score can be measured on.")
        if self.unit not in UNITS:
            raise RecordError(f"'{self.unit}' is not what a score can be measured on (images or texts).")

    def _words(self, sentence: str) -> str:
        return in_texts(sentence) if self.unit == "texts" else sentence

    @property
    def where(self) -> str:
        """Where the score was measured, in words: "150 images, each checked by a model trained
        without it" (cross-validation, whose ``method`` the Evaluate page names), "40 test images, 4
        of them copies of training images"."""
        where = (CHECKED_WITHOUT.format(images=self.images) if self.split == "cv"
                 else f"{self.images} {SPLITS[self.split]}")
        if not self.copies:
            return self._words(where)
        if self.split == "cv":
            return self._words(WITH_COPIES.format(where=where, copies=self.copies,
                                                  copied="with a copy among the others"))
        copied = COPY_OF_TRAINING if self.copies == 1 else COPIES_OF_TRAINING
        return self._words(WITH_COPIES.format(where=where, copies=self.copies, copied=copied))

    @property
    def leaked(self) -> str:
        """"" when no scored image copies a training image, else why the score is too high."""
        if not self.copies:
            return ""
        one = self.copies == 1
        if self.split == "cv":
            return self._words(f"{self.copies} of the {self.images} images {'has' if one else 'have'} a copy among "
                               "the others, so the cross-validated score is likely too high. Remove the copies "
                               "from your images and train again for an honest score.")
        return self._words(LEAKED.format(copies=self.copies, images=self.images, split=SPLITS[self.split],
                                         are_copies='is a copy' if one else 'are copies',
                                         images_trained='an image' if one else 'images'))

    def sentence(self) -> str:
        """"72%, likely between 64% and 79% (40 test images)"."""
        return f"{self.accuracy:.0%}, likely between {self.low:.0%} and {self.high:.0%} ({self.where})"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "metrics.json (score)") -> "Score":
        return cls(**strict_fields(cls, data, where))


@dataclass(frozen=True)
class Metrics:
    """metrics.json: how good the kept model is.

    ``score`` is what every surface shows (the test images' score when there are any, else
    ``estimate``); ``estimate`` is the score from the labelled images (cross-validation or the
    validation split). ``val``/``cv``/``test`` are the full reports per split, ``calibration``
    the temperature and calibration error, ``label_issues`` images probably labelled wrong and
    ``label_check`` whether that list is shown and how sure it is (tlcore.training.label_issues.label_check;
    None in runs made before it)."""

    score: Score
    estimate: Score
    kept_epoch: int
    val: SplitMetrics | None = None
    cv: SplitMetrics | None = None
    test: SplitMetrics | None = None
    calibration: dict | None = None
    label_issues: list = field(default_factory=list)
    label_check: dict | None = None
    growth: dict | None = None
    warnings: list = field(default_factory=list)

    @property
    def held_out(self) -> str:
        """The split scored while training: "cv" or "val"."""
        return "cv" if self.cv is not None else "val"

    def split(self, name: str) -> SplitMetrics | None:
        return {"val": self.val, "cv": self.cv, "test": self.test}[name]

    @property
    def splits(self) -> list[str]:
        """The splits with a report, the score's first."""
        have = [s for s in ("test", "cv", "val") if self.split(s) is not None]
        return sorted(have, key=lambda s: s != self.score.split)

    def to_json(self) -> dict:
        out = asdict(self)
        for name in ("val", "cv", "test"):
            part = self.split(name)
            out[name] = part.to_json() if part else None
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_json(cls, data: Any, where: str = "metrics.json") -> "Metrics":
        d = strict_fields(cls, data, where)
        d["score"] = Score.from_json(d["score"], f"{where} (score)")
        d["estimate"] = Score.from_json(d["estimate"], f"{where} (estimate)")
        for name in ("val", "cv", "test"):
            if d.get(name) is not None:
                d[name] = SplitMetrics.from_json(d[name], f"{where} ({name})")
        return cls(**d)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def read_share(value: Any, what: str) -> float:
    """A share (0 to 1) read from a file: a number from 0 to 1 as it is, one over 1 up to 100 as a
    percent (70 for 0.7, as people write it); RecordError naming ``what`` for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and finite(value) and 0 <= value <= 100:
        return value / 100 if value > 1 else float(value)
    raise RecordError(NOT_A_SHARE.format(what=what, value=str(value)[:12]))


@dataclass(frozen=True)
class NotSureRule:
    """The user's "not sure" rule for a run: answers under ``below`` (a probability) are marked
    "not sure"; ``target`` is what the user asked for ("answers should be right at least this
    share of the time"), None when the rule came with the model. ``below`` 0 is off."""

    below: float = 0.0
    target: float | None = None

    def __post_init__(self) -> None:
        if not (finite(self.below) and 0 <= self.below <= 1) or not (
                self.target is None or (finite(self.target) and 0 < self.target <= 1)):
            raise RecordError(f"A 'not sure' rule needs shares between 0 and 1, not {self.below!r:.12} "
                              f"and {self.target!r:.12}.")

    @property
    def on(self) -> bool:
        return self.below > 0

    def unsure(self, probability: float) -> bool:
        """Whether an answer given with ``probability`` is marked "not sure" (every surface asks this)."""
        return probability < self.below

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "not-sure.json") -> "NotSureRule":
        """The rule kept in a file; shares written as percents (70) are read as such (0.7)."""
        return cls(**{name: None if value is None else read_share(value, f"{where}: the entry '{name}'")
                      for name, value in strict_fields(cls, data, where).items()})
