"""The run configuration: every choice that shapes a training run, as one frozen, JSON-safe value."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from tlcore.errors import TLError
from tlcore.schema import check, setting

AUGMENTS = ("none", "light", "strong")
DEVICES = ("auto", "cpu", "cuda")
EVALUATIONS = ("cv", "holdout")
FASTEST, MOST_ACCURATE = "fastest", "most_accurate"
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

    data: str = setting(
        label="Images", kind="path", required=True, flag="--data",
        help="A folder of class folders, or a zip of one.",
        error="Choose the images to train on (a folder of class folders or a zip).")
    test_data: str = setting(
        "", label="Separate test images", kind="path", advanced=True, on_page=True, flag="--test",
        help="Images the model never trains on, scored once at the end: the most honest measure of how it will do.")
    model: str = setting(
        DEFAULT_MODEL, label="Model", kind="text", flag="--model",
        help="The network to start from, by its name in the model catalog (see 'models').")
    weights: str = setting(
        "pretrained", label="Starting weights", kind="path", advanced=True, on_page=True, flag="--weights",
        help="Pretrained weights are what makes transfer learning work; from scratch needs far more images.")
    init_from: str = setting(
        "", label="Start from an earlier run", kind="path", flag="--init-from",
        help="The folder of an earlier run whose trained model is the starting point.")
    trainable_stages: int | str = setting(
        AUTO, label="Train the last N stages", kind="int", low=0, also=("all", AUTO), flag="--trainable-stages",
        also_text="all: every stage; auto: as recommended",
        help="How many of the network's last stages learn from your images; the others keep what they learned.",
        error="'Stages to train' must be a number, 'all' or 'auto', not {value!r}.")
    train_bn: bool = setting(
        False, label="Let normalisation layers of frozen stages adapt", kind="bool", advanced=True, on_page=True,
        flag="--train-bn",
        help="A light touch on frozen stages (BatchNorm) that often helps when your images look unlike everyday photos.")
    epochs: int | None = setting(
        None, label="Epochs", kind="int", low=1, high=1000, also=(None,), also_text="as recommended",
        on_page=True, flag="--epochs", step=1,
        help="How many times training goes through all your images.",
        error="Epochs must be a whole number from 1 to 1000, not {value!r}.")
    batch_size: int = setting(
        32, label="Batch size", kind="int", low=1, high=4096, advanced=True, on_page=True, flag="--batch-size", step=1,
        help="Images processed together in one step; lower it if the computer runs out of memory.",
        error="Batch size must be a whole number from 1 to 4096, not {value!r}.")
    lr: float = setting(
        3e-3, label="Learning rate", kind="float", low=0, open_low=True, high=1, advanced=True, on_page=True,
        flag="--lr", step=1e-4,
        help="How big each learning step is for the new final layer.",
        error="Learning rate must be above 0 and at most 1, not {value!r}.")
    backbone_lr_mult: float = setting(
        0.1, label="Learning-rate factor for pretrained stages", kind="float", low=0, high=10, advanced=True,
        on_page=True, flag="--backbone-lr-mult", step=0.05,
        help="Pretrained stages learn this many times slower than the new layer, so they keep what they know.",
        error="The pretrained-layer learning-rate multiplier must be between 0 and 10, not {value!r}.")
    weight_decay: float = setting(
        1e-4, label="Weight decay", kind="float", low=0, high=1, advanced=True, on_page=True, flag="--weight-decay",
        step=1e-4, help="A gentle pull towards small weights that reduces memorising.",
        error="Weight decay must be between 0 and 1, not {value!r}.")
    warmup_epochs: float = setting(
        1.0, label="Warm-up epochs", kind="float", low=0, high=100, advanced=True, on_page=True,
        flag="--warmup-epochs", step=0.5, help="Epochs at the start with a slowly rising step size.",
        error="Warm-up epochs must be between 0 and 100, not {value!r}.")
    augment: str = setting(
        AUTO, label="Augmentation", kind="choice", choices=(AUTO,) + AUGMENTS, shown=((AUTO, "as recommended"),),
        advanced=True, on_page=True, flag="--augment",
        help="Randomly flips, crops and recolours training images so the model learns the object, not the exact photo.",
        error="Augmentation must be one of none, light, strong or auto, not {value!r}.")
    early_stopping: int = setting(
        0, label="Early stopping patience (0 = off)", kind="int", low=0, advanced=True, on_page=True,
        flag="--early-stopping", step=1,
        help="Stop when the validation loss has not improved for this many epochs.",
        error="Early stopping patience must be 0 (off) or a positive number of epochs.")
    class_weighting: bool = setting(
        True, label="Balance rare classes", kind="bool", advanced=True, on_page=True, flag="--no-class-weighting",
        help="Count mistakes on rare classes more, so they are not ignored.")
    label_smoothing: float = setting(
        0.1, label="Label smoothing", kind="float", low=0, high=1, open_high=True, advanced=True, on_page=True,
        flag="--label-smoothing", step=0.05,
        help="Teaches the model to be a little less sure, which often generalises better.",
        error="Label smoothing must be at least 0 and below 1, not {value!r}.")
    image_size: int = setting(
        0, label="Image size in pixels", kind="int", low=32, high=1024, also=(0,), also_text="the model's own",
        advanced=True, on_page=True, flag="--image-size", step=16,
        help="Images are resized to this square; smaller is faster, larger keeps detail.",
        error="Image size must be 0 (the model's own) or between 32 and 1024 pixels, not {value!r}.")
    val_fraction: float = setting(
        0.2, label="Share of images kept for checking (validation)", kind="float", low=0.05, high=0.5,
        advanced=True, on_page=True, flag="--val-fraction", step=0.05,
        help="These images are never trained on; they show how well the model does on images it has not seen. "
             "Ignored when the data has a val folder.",
        error="The validation share must be between 0.05 and 0.5, not {value!r}.")
    evaluation: str = setting(
        AUTO, label="How the score is measured", kind="choice", choices=(AUTO,) + EVALUATIONS,
        shown=((AUTO, "as recommended"), ("cv", "cross-validation (all images train)"),
               ("holdout", "validation split")),
        advanced=True, on_page=True, flag="--evaluation",
        help="Cross-validation scores every image with a model trained without it, then trains the final model "
             "on all of them: best with few images, only with a frozen network. A validation split keeps some "
             "images aside to check the model.",
        error="Evaluation must be cv (cross-validation), holdout or auto, not {value!r}.")
    folds: int = setting(
        5, label="Cross-validation folds", kind="int", low=2, high=20, advanced=True, flag="--folds",
        help="The k of k-fold cross-validation: how many parts the images are split into.",
        error="Cross-validation folds must be a whole number from 2 to 20, not {value!r}.")
    recipe: str = setting(
        AUTO, label="Which model to make", kind="choice", choices=(AUTO, FASTEST, MOST_ACCURATE), advanced=True,
        on_page=True, flag="--recipe",
        help="The most accurate model reads each image with three pretrained networks and learns one final layer "
             "on what they all see.",
        error="The recipe must be fastest, most_accurate or auto, not {value!r}.")
    seed: int = setting(
        0, label="Random seed", kind="int", low=0, high=MAX_SEED, advanced=True, on_page=True, flag="--seed", step=1,
        help="The same seed and settings give the same result.",
        error=f"The seed must be a whole number from 0 to {MAX_SEED}, not {{value!r}}.")
    device: str = setting(
        AUTO, label="Device", kind="choice", choices=DEVICES, advanced=True, on_page=True,
        flag="--device", help="auto uses the graphics card (GPU) when there is one.",
        error="Device must be auto, cpu or cuda, not {value!r}.")
    world_size: int = setting(
        1, label="Processes", kind="int", low=1, high=MAX_PROCESSES, flag="--processes",
        help="Train on this many devices of the pool at once (DistributedDataParallel under torchrun); under "
             "torchrun, its --nproc_per_node decides.",
        error=f"The number of processes must be a whole number from 1 to {MAX_PROCESSES}, not {{value!r}}.")
    text_column: str = setting(
        "", label="Column of texts", kind="text", flag="--text-column",
        help="A table of texts' column that holds the texts (guessed when obvious).")
    label_column: str = setting(
        "", label="Column of labels", kind="text", flag="--label-column",
        help="A table of texts' column that holds the labels (guessed when obvious).")

    def __post_init__(self) -> None:
        check(self)

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

