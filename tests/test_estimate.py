"""Wilson intervals for accuracy and stratified cross-validation folds."""

import numpy as np
import pytest

from tlcore.errors import TLError
from tlcore.training.estimate import stratified_folds, wilson_interval


def test_wilson_matches_known_values():
    assert wilson_interval(81, 100) == pytest.approx((0.7222, 0.8749), abs=5e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=5e-4)  # not the useless (0, 0)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=5e-4)
    low90, high90 = wilson_interval(81, 100, confidence=0.90)
    assert 0.7222 < low90 < high90 < 0.8749  # less confidence, narrower interval
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_wilson_95_interval_covers_the_true_accuracy_95_percent_of_the_time():
    n, p = 150, 0.8
    draws = np.random.default_rng(0).binomial(n, p, size=2000)
    covered = np.mean([low <= p <= high for low, high in (wilson_interval(int(c), n) for c in draws)])
    assert 0.93 <= covered <= 0.97


def test_folds_are_disjoint_cover_everything_and_are_stratified():
    labels = np.repeat([0, 1, 2], [23, 11, 7])
    folds = stratified_folds(labels, k=5, seed=0)
    assert len(folds) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(labels)))  # each index exactly once
    for c in range(3):
        per_fold = [int(np.sum(labels[f] == c)) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_folds_are_deterministic_for_a_seed():
    labels = np.repeat([0, 1], 20)
    same = [f.tolist() for f in stratified_folds(labels, seed=3)]
    assert same == [f.tolist() for f in stratified_folds(labels, seed=3)]
    assert same != [f.tolist() for f in stratified_folds(labels, seed=4)]


def test_k_is_lowered_to_the_smallest_class_and_a_single_image_class_is_refused():
    assert len(stratified_folds(["cat"] * 10 + ["dog"] * 3, k=5)) == 3
    with pytest.raises(TLError, match="dog.*only 1 image"):
        stratified_folds(["cat"] * 10 + ["dog"], k=5)
    with pytest.raises(TLError):
        stratified_folds([0, 0, 1, 1], k=1)
