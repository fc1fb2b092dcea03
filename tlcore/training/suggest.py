"""Suggested labels for an unlabelled pool, from the frozen fast path's head on cached features.

The head is the one a frozen run trains (tlcore.models.soup.HeadSoup with the run's recipe), so a
suggestion costs a second, not a training run. Its probabilities are calibrated as a run's are
(tlcore.training.calibration.calibrate on cross-validated logits of the labelled images), and the
same cross-validated logits measure how precise "accept every suggestion at least X% sure" was on
labelled images the head had not seen: that number is shown next to the button, or withheld when
too few labelled images were there to measure it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import softmax
from threadpoolctl import threadpool_limits
from torch import nn

from tlcore.config import TrainConfig, seed_within
from tlcore.errors import TLError
from tlcore.models.soup import HeadSoup
from tlcore.training.calibration import calibrate, nested_probabilities
from tlcore.training.crossval import out_of_fold_logits
from tlcore.training.estimate import stratified_folds
from tlcore.training.labelling_order import COPY_DISTANCE, nearest_distance, teaching_order, unit_rows
from tlcore.training.loop import identity_prep, predict_logits, recipe, train_one_epoch

FROZEN_EPOCHS = 40  # the recommender's epochs for a head on a frozen network (tlcore.training.recommend)
# The bulk-accept precision is withheld with fewer labelled images than this, or fewer than
# MIN_ACCEPTED of them at or above the threshold: a share of 5 images swings by 20 points per image.
MIN_LABELLED = 30
MIN_ACCEPTED = 10
_CPU = torch.device("cpu")
# The lines say {thing}: "image", or "text" for a text dataset's pool (the same code on the same feature arrays).
POOL_TOO_SMALL = "The unlabelled pool {held}; add at least 2 unlabelled {thing}s to get suggestions."
POOL_EMPTY, POOL_OF_ONE = "is empty", "holds only 1 {thing}"  # what POOL_TOO_SMALL says the pool {held}
NO_EXAMPLES = ("Class {classes} has no labelled {thing}s yet; label at least one of each class (two is better) "
               "before asking for suggestions.")
NOT_MEASURED = ("Not measured yet: at least {least} labelled {thing}s, 2 or more in every class, are needed to check "
                "suggestions against labels the model did not see.")
FEW_SURE = ("Not measured: only {sure} of the {checked} labelled {thing}s checked were suggested at least "
            "{threshold:.0%} sure (at least {least} are needed).")


def head_config(seed: int = 0) -> TrainConfig:
    """The resolved config of a default frozen run on a processor, for the head alone."""
    return TrainConfig(data="unlabelled pool", trainable_stages=0, epochs=FROZEN_EPOCHS, augment="none",
                       evaluation="cv", recipe="fastest", seed=seed)


def fit_head(x: np.ndarray, y: np.ndarray, classes: int, seed: int = 0) -> nn.Module:
    """A soup of linear heads trained on features ``x`` [N, D] with labels ``y`` as a frozen run
    trains its head (same recipe, epochs and seeding), in eval mode."""
    cfg = head_config(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    torch.set_flush_denormal(True)  # as train_model does
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_within(seed))
        soup = HeadSoup(nn.Sequential(nn.Linear(xt.shape[1], classes)))
    optimizer, scheduler, loss_fn = recipe(soup.param_groups(cfg.lr, cfg.weight_decay), cfg, yt, len(yt), classes,
                                           _CPU)
    generator = torch.Generator().manual_seed(seed_within(seed))
    with threadpool_limits(1):  # tiny matrices: a second thread only contends (20-30x slower on a busy machine)
        for _ in range(cfg.epochs):
            train_one_epoch(soup, xt, yt, identity_prep(_CPU), loss_fn, optimizer, scheduler, cfg.batch_size,
                            generator, _CPU)
    return soup.eval()


def head_logits(head: nn.Module, x: np.ndarray) -> np.ndarray:
    """The head's logits [N, C] for features [N, D]."""
    xt = torch.as_tensor(x, dtype=torch.float32)
    return predict_logits(head, xt, identity_prep(_CPU), 4096, _CPU).numpy().astype(np.float64)


def held_out(x: np.ndarray, y: np.ndarray, classes: int, seed: int = 0) -> tuple[np.ndarray, float] | None:
    """Calibrated probabilities [N, C] of each labelled image from a head that did not see it
    (cross-validated, each with a temperature fitted without it when calibration is kept), and the
    temperature for new images; None when a class has fewer than 2 labelled images."""
    try:
        stratified_folds(y, head_config(seed).folds, seed)
    except TLError:
        return None
    with threadpool_limits(1):
        oof = out_of_fold_logits(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long),
                                 classes, head_config(seed), _CPU)[-1].numpy().astype(np.float64)
    cal = calibrate(oof, y, seed)
    probs = nested_probabilities(oof, y, seed=seed) if cal["kept"] else softmax(oof, axis=1)
    return probs, float(cal["temperature"])


def accept_precision(probs: np.ndarray | None, y: np.ndarray, threshold: float, thing: str = "image") -> dict:
    """How precise "accept every suggestion at least ``threshold`` sure" was on held-out labelled images.

    Returns (JSON-safe): threshold, precision (None when withheld), held_out (labelled images
    measured on), accepted (those at or above the threshold), right (of those, suggested correctly),
    reason (one plain line when withheld, else "")."""
    out = {"threshold": float(threshold), "precision": None, "held_out": 0, "accepted": 0, "right": 0, "reason": ""}
    if probs is None or len(y) < MIN_LABELLED:
        out["reason"] = NOT_MEASURED.format(least=MIN_LABELLED, thing=thing)
        return out
    sure = probs.max(axis=1) >= threshold
    right = int((probs.argmax(axis=1)[sure] == np.asarray(y)[sure]).sum())
    out.update(held_out=int(len(y)), accepted=int(sure.sum()), right=right)
    if sure.sum() < MIN_ACCEPTED:
        out["reason"] = FEW_SURE.format(sure=int(sure.sum()), checked=len(y), thing=thing, threshold=threshold,
                                        least=MIN_ACCEPTED)
    else:
        out["precision"] = right / int(sure.sum())
    return out


@dataclass
class Suggestions:
    """A class and a calibrated probability for each pool image, and the order to ask about them."""

    suggested: np.ndarray  # [P] class index
    probability: np.ndarray  # [P] calibrated probability of the suggested class
    probs: np.ndarray  # [P, C] calibrated probabilities
    order: np.ndarray  # [P] pool indices, the one to ask about first first
    temperature: float
    held_probs: np.ndarray | None  # [N, C] held-out probabilities of the labelled images (None: too few)
    labels: np.ndarray  # [N] the labelled images' classes
    thing: str = "image"  # what the lines call an example: "image" or "text"

    def expected_accuracy(self) -> float | None:
        """The share of the pool's suggestions the model expects to be right: the mean calibrated
        probability of each suggested class (bench/label_chart.py, four image sets and a text set:
        within 5 points of the test accuracy at 62-85% of the points, reading 5.7 points low to 0.5
        high on average, where the accuracy of the labels given, cross-validated, read 6.5-12.9 points
        low: the model asked about the hard ones). None when not measured: under MIN_LABELLED labels
        (the calibration is not fitted), or once the labelled images outnumber the pool (what is left
        then is the easy part)."""
        if self.held_probs is None or len(self.labels) < MIN_LABELLED or len(self.probability) < len(self.labels):
            return None
        return float(self.probability.mean())

    def accept(self, threshold: float) -> dict:
        """``accept_precision`` at ``threshold``, with ``pool``: how many pool images it would accept."""
        return accept_precision(self.held_probs, self.labels, threshold, self.thing) | {
            "pool": int((self.probability >= threshold).sum())}


def check_counts(images: int, y: np.ndarray, classes: list[str], thing: str = "image") -> None:
    """Raise TLError with one plain line when a pool of ``images`` is too small for suggestions,
    or a class has no labelled image among ``y`` (what can be checked before any feature is computed)."""
    if len(classes) < 2:
        raise TLError(f"Suggestions need at least 2 classes; add another class with a few labelled {thing}s.")
    if images < 2:
        raise TLError(POOL_TOO_SMALL.format(held=POOL_EMPTY if images == 0 else POOL_OF_ONE.format(thing=thing),
                                            thing=thing))
    missing = [c for i, c in enumerate(classes) if not (y == i).any()]
    if missing:
        raise TLError(NO_EXAMPLES.format(classes=', '.join(repr(c) for c in missing), thing=thing))


def check_inputs(labelled: np.ndarray, y: np.ndarray, pool: np.ndarray, classes: list[str],
                 thing: str = "image") -> None:
    """Raise TLError with one plain line when suggestions cannot be made from these arrays."""
    check_counts(len(pool) if pool.ndim == 2 else 0, y, classes, thing)
    if labelled.ndim != 2 or y.ndim != 1 or len(labelled) != len(y) or labelled.shape[1] != pool.shape[1]:
        raise TLError(f"The labelled and unlabelled {thing}s' features do not match; compute the pool's features "
                      "again with the same model.")
    if not (np.isfinite(labelled).all() and np.isfinite(pool).all()):
        raise TLError(f"Some {thing} features are not numbers; compute the pool's features again.")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise TLError(f"Some labels name no class; the classes are {', '.join(classes)}.")
    copies = nearest_distance(unit_rows(pool), unit_rows(labelled)) <= COPY_DISTANCE
    if copies.all():
        raise TLError(f"All {len(pool)} {thing}s in the pool are copies of {thing}s already labelled; there is "
                      "nothing left to label.")


def suggest(labelled: np.ndarray, y: np.ndarray, pool: np.ndarray, classes: list[str], seed: int = 0,
            batch: int = 10, thing: str = "image") -> Suggestions:
    """Train the frozen head on the labelled features and suggest a class for every pool image.

    Args:
        labelled: [N, D] features of the labelled images (as the run's head sees them).
        y: [N] their class indices into ``classes``.
        pool: [P, D] features of the unlabelled images.
        classes: the class names.
        seed: the head's and the order's seed; the same inputs and seed give the same answer.
        batch: how many images the user is asked about at a time (shapes the order).
        thing: what the plain lines call an example ("image", or "text" for texts' features).
    Raises:
        TLError: a pool of fewer than 2 images, a class with no labelled image, a pool that only
            copies labelled images, or features that do not match.
    """
    labelled, pool = np.asarray(labelled, dtype=np.float32), np.asarray(pool, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    check_inputs(labelled, y, pool, classes, thing)
    measured = held_out(labelled, y, len(classes), seed)
    head = fit_head(labelled, y, len(classes), seed)
    temperature = measured[1] if measured else 1.0
    probs = softmax(head_logits(head, pool) / temperature, axis=1)
    with threadpool_limits(1):  # as the head: threads only contend (label_speed: 3.4 s of processor time, 2.1 s)
        order = teaching_order(pool, probs, labelled, batch, seed)
    return Suggestions(probs.argmax(axis=1), probs.max(axis=1), probs, order, temperature,
                       measured[0] if measured else None, y, thing)
