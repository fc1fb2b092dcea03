"""Honest scores for small data: a confidence interval for accuracy, and folds for cross-validation.

With 30 validation images an accuracy of 80 % could just as well be 63 % or 90 %; the interval
says so. Cross-validation lets every image be held out once, so no image is wasted on a fixed split.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from tlcore.errors import TLError


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion such as accuracy; (0.0, 1.0) when total is 0.

    Unlike the textbook p ± z·se it stays inside [0, 1] and does not shrink to a point at 0 % or 100 %.
    """
    if not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total, got {correct} of {total}")
    if total == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / total
    z2n = z * z / total
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / total + z2n / (4 * total)) / (1 + z2n)
    # At 0 % and 100 % the bound is exactly 0 or 1; the subtraction would leave rounding noise.
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == total else min(1.0, centre + half)
    return low, high


def stratified_folds(labels, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Held-out index arrays for stratified k-fold cross-validation, the same for the same seed.

    Args:
        labels: [N] class of each image.
        k: wanted folds; lowered to the smallest class's image count so every fold sees every class.
        seed: shuffling seed.
    Returns:
        k sorted index arrays; every image is in exactly one.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) == 0:
        raise TLError("There are no images to cross-validate.")
    if counts.min() < 2:
        raise TLError(f"Class {classes[counts.argmin()]!s} has only 1 image; cross-validation needs at least 2 "
                      "in every class. Add images to it or leave it out.")
    k = min(k, int(counts.min()))
    if k < 2:
        raise TLError("Cross-validation needs at least 2 folds.")
    # Each class's images, shuffled, are dealt to the folds in turn, the deal continuing from one
    # class to the next: every fold holds each class to within one image, and all folds to within one.
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = (dealt + np.arange(len(members))) % k
        dealt += len(members)
    return [np.flatnonzero(fold_of == f) for f in range(k)]
