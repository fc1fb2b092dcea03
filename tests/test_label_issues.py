"""Probably-mislabelled images, on real digits with labels flipped on purpose."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from threadpoolctl import threadpool_limits

from tlcore.training.label_issues import probably_mislabelled

CLASSES = 6  # digits 0-5: enough classes to be a real test, few enough to stay fast


def out_of_fold(x, labels):
    """Held-out probabilities: each image scored by a model that never saw it."""
    with threadpool_limits(1):  # small problem: BLAS threads only contend (seconds instead of 0.3 s on a busy CPU)
        return cross_val_predict(LogisticRegression(max_iter=500), x, labels, cv=5, method="predict_proba")


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    keep = y < CLASSES
    return x[keep] / 16, y[keep]


@pytest.fixture(scope="module")
def flipped(digits):
    """5 % of the labels moved to another class (seeded), with out-of-fold probabilities."""
    x, y = digits
    rng = np.random.default_rng(0)
    wrong = rng.choice(len(y), size=len(y) // 20, replace=False)
    noisy = y.copy()
    noisy[wrong] = (y[wrong] + rng.integers(1, CLASSES, size=len(wrong))) % CLASSES
    return noisy, out_of_fold(x, noisy), wrong


def test_finds_most_flipped_labels_and_few_correct_ones(flipped):
    noisy, probs, wrong = flipped
    flagged = {row["index"] for row in probably_mislabelled(noisy, probs)}
    is_wrong = np.zeros(len(noisy), dtype=bool)
    is_wrong[wrong] = True
    found = np.mean([i in flagged for i in wrong])
    false_alarms = sum(not is_wrong[i] for i in flagged) / np.sum(~is_wrong)
    print(f"flipped found {found:.3f}, correct flagged {false_alarms:.4f}")
    assert found >= 0.5
    assert false_alarms < 0.05


def test_rows_are_ranked_and_describe_the_suggestion(flipped):
    noisy, probs, _ = flipped
    issues = probably_mislabelled(noisy.tolist(), probs)
    assert issues
    for row in issues:
        assert set(row) == {"index", "given", "suggested", "given_probability", "suggested_probability"}
        assert row["given"] == noisy[row["index"]] and row["suggested"] == probs[row["index"]].argmax()
        assert row["suggested"] != row["given"]
        assert row["given_probability"] == probs[row["index"], row["given"]]
        assert type(row["index"]) is int and type(row["given_probability"]) is float
    given = [row["given_probability"] for row in issues]
    assert given == sorted(given)  # most suspicious (least self-confidence) first


def test_clean_labels_give_few_issues(digits):
    x, y = digits
    assert len(probably_mislabelled(y, out_of_fold(x, y))) < 0.01 * len(y)


@pytest.mark.parametrize("labels, probs", [
    ([0, 1] * 4, np.full((8, 2), 0.5)),  # fewer than 10 images
    ([0] * 20, np.tile([0.3, 0.7], (20, 1))),  # one class
    ([0, 1] * 10, np.full((19, 2), 0.5)),  # lengths differ
    ([0, 1, 2] * 5, np.full((15, 2), 0.5)),  # a label with no column
    ([0, 1] * 10, np.full((20, 2), 1.5)),  # not probabilities
    ([0, 1] * 10, np.full((20, 2), np.nan)),
    ([], np.zeros((0, 2))),
])
def test_degenerate_input_gives_an_empty_list(labels, probs):
    assert probably_mislabelled(labels, probs) == []
