"""Probably-mislabelled images, on real digits with labels moved on purpose, scored by the engine's own
cross-validated heads; and the gate that withholds the list where the model is too weak for it."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from tlcore.config import TrainConfig
from tlcore.models.net import FeatureNorm
from tlcore.record import Metrics, Score
from tlcore.training.crossval import out_of_fold_logits
from tlcore.training.label_issues import (MIN_ABOVE_CHANCE, PRECISION, label_check, measured_precision,
                                          probably_mislabelled)

CLASSES = 10
PER_CLASS = 50
# The default recipe's heads on a processor (tlcore.training.recommend for 50 a class): 40 epochs, 5 folds.
CFG = TrainConfig(data="digits", trainable_stages=0, epochs=40, augment="none", evaluation="cv", recipe="fastest")


def out_of_fold(features: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """The last epoch's held-out logits, each image scored by heads that never saw it (as a run keeps them)."""
    with threadpool_limits(1):  # tiny matrices: a second thread only contends
        return out_of_fold_logits(features, torch.as_tensor(labels), CLASSES, CFG, torch.device("cpu"))[-1].numpy()


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, np.ndarray]:
    """50 digits a class (seeded), as FeatureNorm-ed pixel features."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    pick = np.concatenate([rng.choice(np.flatnonzero(y == c), PER_CLASS, replace=False) for c in range(CLASSES)])
    return FeatureNorm()(torch.as_tensor(x[pick], dtype=torch.float32)), y[pick]


@pytest.fixture(scope="module")
def flipped(digits):
    """10 % of the labels moved to a random other class (seeded), with held-out logits."""
    x, y = digits
    rng = np.random.default_rng(1)
    wrong = rng.choice(len(y), size=len(y) // 10, replace=False)
    noisy = y.copy()
    noisy[wrong] = (y[wrong] + rng.integers(1, CLASSES, size=len(wrong))) % CLASSES
    return noisy, out_of_fold(x, noisy), wrong


def test_finds_most_moved_labels_and_few_correct_ones(flipped):
    noisy, logits, wrong = flipped
    listed = {row["index"] for row in probably_mislabelled(noisy, logits)}
    found = len(listed & set(wrong.tolist())) / len(wrong)
    false = len(listed - set(wrong.tolist()))
    print(f"moved labels found {found:.2f}; correct labels listed {false} of {len(noisy) - len(wrong)}")
    assert found >= 0.5
    assert false <= 0.02 * (len(noisy) - len(wrong))


def test_clean_labels_are_hardly_ever_listed(digits):
    x, y = digits
    assert len(probably_mislabelled(y, out_of_fold(x, y))) <= 0.03 * len(y)


def test_rows_are_ranked_and_describe_the_suggestion(flipped):
    noisy, logits, _ = flipped
    issues = probably_mislabelled(noisy.tolist(), logits)
    probs = softmax(logits.astype(np.float64), axis=1)
    assert issues
    for row in issues:
        i = row["index"]
        assert set(row) == {"index", "given", "suggested", "given_probability", "suggested_probability"}
        assert row["given"] == noisy[i] and row["suggested"] == logits[i].argmax() != row["given"]
        assert row["given_probability"] == pytest.approx(probs[i, noisy[i]])
        assert logits[i, row["suggested"]] - logits[i, row["given"]] >= 2.75  # the margin the benchmark chose
        assert type(i) is int and type(row["given_probability"]) is float
    given = [row["given_probability"] for row in issues]
    assert given == sorted(given)  # most suspicious (least self-confidence) first


def test_a_capable_model_shows_the_list_with_its_measured_precision(flipped):
    noisy, logits, _ = flipped
    rows, check = label_check(noisy, logits)
    assert check["shown"] and rows == probably_mislabelled(noisy, logits)
    assert check["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == noisy))
    assert check["precision"] == measured_precision(check["accuracy"], CLASSES) >= 0.6
    assert check["found"] == len(rows) and check["reason"] == ""
    json.dumps(check, allow_nan=False)  # stored in metrics.json


def test_a_weak_model_withholds_the_list_and_says_why(digits):
    """Features scrambled by noise: the heads barely beat guessing, so a list would be mostly wrong."""
    x, y = digits
    noisy = x + 3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    logits = out_of_fold(noisy, y)
    rows, check = label_check(y, logits)
    assert check["above_chance"] < MIN_ABOVE_CHANCE and not check["shown"]
    assert rows == [] and check["precision"] is None
    assert check["reason"].startswith("Not shown:") and f"{check['accuracy']:.0%}" in check["reason"]
    assert "\n" not in check["reason"]


def test_the_measured_precision_follows_the_bands():
    assert [low for low, _ in PRECISION] == sorted((low for low, _ in PRECISION), reverse=True)
    assert PRECISION[-1][0] == MIN_ABOVE_CHANCE
    assert measured_precision(0.25, 4) is None  # guessing among 4 classes
    assert measured_precision(1.0, 2) == PRECISION[0][1]
    assert all(0.6 <= p <= 1 for _, p in PRECISION)


@pytest.mark.parametrize("labels, logits", [
    ([0, 1] * 4, np.zeros((8, 2))),  # fewer than 10 images
    ([0] * 20, np.tile([0.3, 0.7], (20, 1))),  # one class
    ([0, 1] * 10, np.zeros((19, 2))),  # lengths differ
    ([0, 1, 2] * 5, np.zeros((15, 2))),  # a label with no column
    ([0, 1] * 10, np.full((20, 2), np.nan)),
    ([[0, 1], [1]], np.zeros((2, 2))),  # ragged
    ([], np.zeros((0, 2))),
])
def test_degenerate_input_gives_an_empty_list(labels, logits):
    assert probably_mislabelled(labels, logits) == []
    rows, check = label_check(labels, logits)
    assert rows == [] and not check["shown"] and check["reason"]


def test_metrics_keep_the_verdict_and_read_runs_made_before_it():
    score = Score("cv", 0.9, 0.8, 0.95, 100, "5-fold cross-validation")
    old = {"score": score.to_json(), "estimate": score.to_json(), "kept_epoch": 3, "label_issues": []}
    assert Metrics.from_json(old).label_check is None
    _, check = label_check([0, 1] * 10, np.tile([[2.0, -2.0], [-2.0, 2.0]], (10, 1)))
    metrics = replace(Metrics.from_json(old), label_check=check)
    text = json.dumps(metrics.to_json(), allow_nan=False)
    assert Metrics.from_json(json.loads(text)) == metrics
