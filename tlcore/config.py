"""The run configuration: every choice that shapes a training run, as one frozen, JSON-safe value."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from tlcore.errors import TLError

AUGMENTS = ("none", "light", "strong")
DEVICES = ("auto", "cpu", "cuda")
EVALUATIONS = ("cv", "holdout")
FASTEST, MOST_ACCURATE = "fastest", "most_accurate"
RECIPES = (FASTEST, MOST_ACCURATE)
AUTO = "auto"
DEFAULT_MODEL = "efficientnet_lite1"  # the catalog's first model: bundled, so it works offline


MAX_PROCESSES = 64
MAX_SEED = 2**64 - 1  # the largest seed torch takes; a nanosecond timestamp fits


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce a run. "auto" values are filled in by the recommender.

    Attributes:
        data: a folder of class folders, a zip of one, or a stored dataset folder.
        test_data: an optional held-out set in the same form, used only for the final report.
        model: a catalog name.
        weights: "pretrained", "none" (train from scratch) or a weights file path.
        init_from: the folder of an earlier run whose trained model is the starting point.
        trainable_stages: how many of the last stages learn: a number, "all" or "auto".
        train_bn: whether BatchNorm layers in frozen stages keep learning.
        epochs: passes over the training images, or None for the recommender's choice.
        lr: learning rate of the new head; pretrained layers use lr * backbone_lr_mult.
        warmup_epochs: epochs of linear learning-rate warm-up before the cosine decay.
        augment: "none", "light", "strong" or "auto".
        early_stopping: stop after this many epochs without a better validation loss (0: never).
        class_weighting: weigh the loss so rare classes count as much as common ones.
        image_size: input size in pixels (0: the model's own).
        evaluation: how the score is estimated from the labelled images: "cv" (k-fold
            cross-validation over all of them, then a final model trained on all; frozen network
            only), "holdout" (a validation split) or "auto" (the recommender's choice).
        folds: the k of k-fold cross-validation.
        recipe: "fastest" (the chosen model alone), "most_accurate" (a frozen ensemble of the
            bundled models, read at several depths and averaged with the mirror image; see
            tlcore.models.ensemble) or "auto" (the recommender's choice).
        world_size: how many processes train the run together (DistributedDataParallel under
            torchrun: one GPU each, or CPU processes); set by torchrun, or asked of the device pool.
        text_column, label_column: a table of texts' columns of texts and of labels ("": guessed).
    """

    data: str
    test_data: str = ""
    model: str = DEFAULT_MODEL
    weights: str = "pretrained"
    init_from: str = ""
    trainable_stages: int | str = AUTO
    train_bn: bool = False
    epochs: int | None = None
    batch_size: int = 32
    lr: float = 3e-3
    backbone_lr_mult: float = 0.1
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    augment: str = AUTO
    early_stopping: int = 0
    class_weighting: bool = True
    label_smoothing: float = 0.1
    image_size: int = 0
    val_fraction: float = 0.2
    evaluation: str = AUTO
    folds: int = 5
    recipe: str = AUTO
    seed: int = 0
    device: str = AUTO
    world_size: int = 1
    text_column: str = ""
    label_column: str = ""

    def __post_init__(self) -> None:
        _check(bool(self.data), "Choose the images to train on (a folder of class folders or a zip).")
        ts = self.trainable_stages
        _check(ts in (AUTO, "all") or (isinstance(ts, int) and not isinstance(ts, bool) and ts >= 0),
               f"'Stages to train' must be a number, 'all' or 'auto', not {ts!r}.")
        _check(self.epochs is None or (isinstance(self.epochs, int) and 1 <= self.epochs <= 1000),
               f"Epochs must be a whole number from 1 to 1000, not {self.epochs!r}.")
        _check(isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096,
               f"Batch size must be a whole number from 1 to 4096, not {self.batch_size!r}.")
        _check(_num(self.lr) and 0 < self.lr <= 1, f"Learning rate must be above 0 and at most 1, not {self.lr!r}.")
        _check(_num(self.backbone_lr_mult) and 0 <= self.backbone_lr_mult <= 10,
               f"The pretrained-layer learning-rate multiplier must be between 0 and 10, not {self.backbone_lr_mult!r}.")
        _check(_num(self.weight_decay) and 0 <= self.weight_decay <= 1,
               f"Weight decay must be between 0 and 1, not {self.weight_decay!r}.")
        _check(_num(self.warmup_epochs) and self.warmup_epochs >= 0, "Warm-up epochs cannot be negative.")
        _check(self.augment in AUGMENTS + (AUTO,),
               f"Augmentation must be one of none, light, strong or auto, not {self.augment!r}.")
        _check(isinstance(self.early_stopping, int) and self.early_stopping >= 0,
               "Early stopping patience must be 0 (off) or a positive number of epochs.")
        _check(_num(self.label_smoothing) and 0 <= self.label_smoothing < 1,
               f"Label smoothing must be at least 0 and below 1, not {self.label_smoothing!r}.")
        _check(isinstance(self.image_size, int) and (self.image_size == 0 or 32 <= self.image_size <= 1024),
               f"Image size must be 0 (the model's own) or between 32 and 1024 pixels, not {self.image_size!r}.")
        _check(_num(self.val_fraction) and 0.05 <= self.val_fraction <= 0.5,
               f"The validation share must be between 0.05 and 0.5, not {self.val_fraction!r}.")
        _check(self.evaluation in EVALUATIONS + (AUTO,),
               f"Evaluation must be cv (cross-validation), holdout or auto, not {self.evaluation!r}.")
        _check(isinstance(self.folds, int) and not isinstance(self.folds, bool) and 2 <= self.folds <= 20,
               f"Cross-validation folds must be a whole number from 2 to 20, not {self.folds!r}.")
        _check(self.recipe in RECIPES + (AUTO,),
               f"The recipe must be fastest, most_accurate or auto, not {self.recipe!r}.")
        _check(isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed <= MAX_SEED,
               f"The seed must be a whole number from 0 to {MAX_SEED}, not {self.seed!r}.")
        _check(self.device in DEVICES, f"Device must be auto, cpu or cuda, not {self.device!r}.")
        _check(isinstance(self.world_size, int) and not isinstance(self.world_size, bool)
               and 1 <= self.world_size <= MAX_PROCESSES,
               f"The number of processes must be a whole number from 1 to {MAX_PROCESSES}, not {self.world_size!r}.")

    @property
    def is_resolved(self) -> bool:
        """True when no choice is left to the recommender."""
        return (self.trainable_stages != AUTO and self.epochs is not None and self.augment != AUTO
                and self.evaluation != AUTO and self.recipe != AUTO)

    def to_json(self) -> dict:
        """A plain dict, ready for ``json.dumps``."""
        return asdict(self)

    def dumps(self) -> str:
        """Stable, human-readable JSON."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        """Rebuild from ``to_json`` output; unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        if "recipe" not in data:  # written before recipes existed: every such run used one model
            data = {**data, "recipe": FASTEST}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TLError(f"Unknown setting(s) in the run configuration: {', '.join(unknown)}.")
        return cls(**data)

    def with_(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def seed_within(seed: int, bits: int = 64) -> int:
    """``seed`` (or a seed derived from it, however large) folded into ``bits`` bits, for a random
    generator that takes no larger one (torch: 64, scikit-learn: 32). A seed that fits already is
    unchanged, so the runs made before replay exactly."""
    return seed % 2**bits


def _num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise TLError(message)
