"""Labelling with the model: suggestions, the order to ask in, the bulk-accept precision, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from tlcore.errors import TLError
from tlcore.models.net import FeatureNorm
from tlcore.training.labelling_order import TYPICAL_UNTIL, teaching_order, typical_share
from tlcore.training.suggest import MIN_LABELLED, accept_precision, fit_head, head_logits, suggest

NAMES = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def digits():
    d = load_digits()  # pixels through FeatureNorm, as a run's head sees a frozen network's features
    return FeatureNorm()(torch.as_tensor(d.data, dtype=torch.float32)).numpy(), d.target


def split(y: np.ndarray, per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labelled = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
    return labelled, np.setdiff1d(np.arange(len(y)), labelled)


def test_suggestions_are_deterministic_and_cover_the_pool(digits):
    x, y = digits
    lab, pool = split(y, 3)
    a = suggest(x[lab], y[lab], x[pool], NAMES, seed=4)
    b = suggest(x[lab], y[lab], x[pool], NAMES, seed=4)
    assert np.array_equal(a.order, b.order) and np.array_equal(a.probability, b.probability)
    assert sorted(a.order.tolist()) == list(range(len(pool)))
    assert np.allclose(a.probs.sum(1), 1) and np.array_equal(a.suggested, a.probs.argmax(1))
    assert (a.suggested == y[pool]).mean() > 0.7  # the frozen head learns digits from 3 a class


def test_copies_of_labelled_images_go_last(digits):
    x, y = digits
    lab, pool = split(y, 3)
    copies = lab[:5]
    s = suggest(x[lab], y[lab], x[np.concatenate([pool[:300], copies])], NAMES)
    assert set(s.order[-5:].tolist()) == set(range(300, 305))


def test_near_identical_images_are_not_all_asked_about_first():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 16))
    pool = np.concatenate([centres[0] + 1e-3 * rng.normal(size=(20, 16)),  # a burst of 20 near-copies
                           np.repeat(centres[1:], 10, axis=0) + 0.3 * rng.normal(size=(290, 16))])
    margin = np.concatenate([np.full(20, 0.01), rng.uniform(0.05, 0.6, 290)])  # the burst: the most uncertain
    probs = np.stack([(1 + margin) / 2, (1 - margin) / 2], axis=1)
    labelled = centres[5:7]
    first = teaching_order(pool, probs, labelled, batch=10)[:10]
    assert (first < 20).sum() <= 2
    by_margin_only = teaching_order(pool, probs, labelled, batch=10, per_pick=1, typical=0)[:10]
    assert (by_margin_only < 20).sum() == 10  # what the diversity step prevents


def test_typical_images_give_way_to_uncertain_ones_as_labels_grow():
    assert typical_share(20, 10, 10) == 9 and typical_share(100, 10, 10) == 5  # 2 a class: almost all typical
    assert typical_share(TYPICAL_UNTIL * 10, 10, 10) == 0 == typical_share(10 * TYPICAL_UNTIL * 10, 10, 10)
    rng = np.random.default_rng(1)
    pool, probs = rng.normal(size=(200, 8)), rng.dirichlet(np.ones(2), 200)
    many = rng.normal(size=(2 * TYPICAL_UNTIL, 8))  # TYPICAL_UNTIL labels a class: margin with clusters only
    assert np.array_equal(teaching_order(pool, probs, many), teaching_order(pool, probs, many, typical=0))
    few = many[:4]
    assert not np.array_equal(teaching_order(pool, probs, few)[:10], teaching_order(pool, probs, few, typical=0)[:10])


def test_bulk_accept_precision_is_measured_on_held_out_labels(digits):
    x, y = digits
    lab, pool = split(y, 5)
    s = suggest(x[lab], y[lab], x[pool], NAMES)
    everything = s.accept(0.0)
    assert everything["held_out"] == len(lab) and everything["accepted"] == len(lab)
    trained = (head_logits(fit_head(x[lab], y[lab], 10), x[lab]).argmax(1) == y[lab]).mean()
    assert everything["precision"] < trained - 0.05  # not the head's own training images
    assert everything["precision"] == everything["right"] / len(lab)
    sure = s.accept(0.9)
    assert sure["precision"] is None or sure["precision"] >= everything["precision"]
    assert sure["pool"] == int((s.probability >= 0.9).sum())


def test_bulk_accept_precision_is_withheld_with_too_few_labels(digits):
    x, y = digits
    lab, pool = split(y, 2)
    assert len(lab) < MIN_LABELLED
    got = suggest(x[lab], y[lab], x[pool], NAMES).accept(0.8)
    assert got["precision"] is None
    assert got["reason"] == ("Not measured yet: at least 30 labelled images, 2 or more in every class, are "
                             "needed to check suggestions against labels the model did not see.")


def test_bulk_accept_precision_is_withheld_when_few_were_that_sure():
    y = np.arange(40) % 4
    probs = np.full((40, 4), 0.1)
    probs[np.arange(40), y] = 0.7
    probs[:5] = 0.01
    probs[np.arange(5), y[:5]] = 0.97  # only 5 held-out images at 95% or more
    assert accept_precision(probs, y, 0.5)["precision"] == 1.0
    got = accept_precision(probs, y, 0.95)
    assert (got["precision"], got["accepted"], got["right"]) == (None, 5, 5)
    assert got["reason"] == ("Not measured: only 5 of the 40 labelled images checked were suggested at least "
                             "95% sure (at least 10 are needed).")


@pytest.mark.parametrize("pool, line", [
    (0, "The unlabelled pool is empty; add at least 2 unlabelled images to get suggestions."),
    (1, "The unlabelled pool holds only 1 image; add at least 2 unlabelled images to get suggestions."),
])
def test_a_pool_of_fewer_than_two_images_is_said_plainly(digits, pool, line):
    x, y = digits
    lab, rest = split(y, 2)
    with pytest.raises(TLError) as e:
        suggest(x[lab], y[lab], x[rest[:pool]], NAMES)
    assert str(e.value) == line


def test_a_class_with_no_labelled_image_is_said_plainly(digits):
    x, y = digits
    lab, rest = split(y, 2)
    lab = lab[y[lab] != 7]
    with pytest.raises(TLError) as e:
        suggest(x[lab], y[lab], x[rest], NAMES)
    assert str(e.value) == ("Class '7' has no labelled images yet; label at least one of each class (two is "
                            "better) before asking for suggestions.")


def test_a_pool_of_copies_of_labelled_images_is_said_plainly(digits):
    x, y = digits
    lab, _ = split(y, 2)
    with pytest.raises(TLError) as e:
        suggest(x[lab], y[lab], x[lab[:6]], NAMES)
    assert str(e.value) == ("All 6 images in the pool are copies of images already labelled; there is nothing "
                            "left to label.")


@pytest.mark.parametrize("per_class", [5, 15])
def test_the_expected_accuracy_is_close_to_the_pools_true_accuracy(digits, per_class):
    x, y = digits
    lab, pool = split(y, per_class, seed=per_class)
    s = suggest(x[lab], y[lab], x[pool], NAMES, seed=1)
    right = (s.suggested == y[pool]).mean()
    assert abs(s.expected_accuracy() - right) <= 0.06, (s.expected_accuracy(), right)


def test_the_expected_accuracy_is_withheld_where_it_was_not_measured(digits):
    x, y = digits
    few, pool = split(y, 2)  # under MIN_LABELLED: no calibration
    assert suggest(x[few], y[few], x[pool], NAMES).expected_accuracy() is None
    lab, rest = split(y, 10)  # 100 labelled, a pool of 60 left: the easy part
    assert suggest(x[lab], y[lab], x[rest[:60]], NAMES).expected_accuracy() is None
    assert suggest(x[lab], y[lab], x[rest[:100]], NAMES).expected_accuracy() is not None
