"""Temperature scaling, calibration error and the "not sure" threshold, on synthetic and real (digits) logits."""

import json

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from tlcore.training.calibration import (calibrate, expected_calibration_error, fit_temperature, not_sure_threshold,
                                reliability)


def calibrated_logits(n=2000, classes=5, seed=0):
    """Logits whose softmax is the true label distribution, so T = 1 is right for them."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(n, classes))
    p = softmax(z, axis=1)
    labels = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return z, labels


def rows(*groups):
    """Probabilities with a chosen top confidence: (confidence, right, wrong) per group, 3 classes."""
    probs, labels = [], []
    for conf, right, wrong in groups:
        probs += [[conf, (1 - conf) / 2, (1 - conf) / 2]] * (right + wrong)
        labels += [0] * right + [1] * wrong
    return np.array(probs), np.array(labels)


def test_calibrated_logits_keep_a_temperature_of_one():
    z, y = calibrated_logits()
    assert fit_temperature(z, y) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("scale", [4.0, 0.25])
def test_temperature_undoes_over_and_under_confidence(scale):
    z, y = calibrated_logits()
    t = fit_temperature(z * scale, y)
    assert t == pytest.approx(scale, rel=0.15)  # > 1 for over-confident logits, < 1 for under-confident ones
    before = expected_calibration_error(softmax(z * scale, axis=1), y)
    after = expected_calibration_error(softmax(z * scale / t, axis=1), y)
    assert after < before / 2


def test_temperature_accepts_torch_clamps_and_skips_degenerate_input():
    z, y = calibrated_logits(n=300)
    assert fit_temperature(torch.tensor(z * 4), torch.tensor(y)) == pytest.approx(fit_temperature(z * 4, y))
    right = np.eye(3)[[0, 1, 2, 0]] * 5
    # All right: sharper is always better (until the NLL is 0 in floating point); all wrong: flatter is.
    assert fit_temperature(right, [0, 1, 2, 0]) < 0.2
    assert fit_temperature(right, [1, 2, 0, 1]) == pytest.approx(20.0, rel=1e-3)
    assert fit_temperature(np.ones((5, 3)), [0, 1, 2, 0, 1]) == 1.0
    assert fit_temperature(np.array([[3.0, 1.0]]), [0]) == 1.0


def test_real_digits_over_confident_classifier_gets_calibrated_on_unseen_images():
    """Few training images and almost no regularisation: sure of itself, wrong more often than it says."""
    x, y = load_digits(return_X_y=True)
    x_train, x_held, y_train, y_held = train_test_split(x / 16, y, train_size=0.1, stratify=y, random_state=0)
    logits = LogisticRegression(C=1e4, max_iter=300).fit(x_train, y_train).decision_function(x_held)
    z_fit, z_check, y_fit, y_check = train_test_split(logits, y_held, train_size=0.5, stratify=y_held,
                                                      random_state=0)
    t = fit_temperature(z_fit, y_fit)
    before = expected_calibration_error(softmax(z_check, axis=1), y_check)
    after = expected_calibration_error(softmax(z_check / t, axis=1), y_check)
    print(f"digits: T={t:.2f} ECE {before:.4f} -> {after:.4f}")
    assert t > 1.5
    assert after < 0.6 * before


def test_ece_and_reliability_by_hand():
    # 10 images at 0.9 confidence with 8 right (gap 0.1), 10 at 0.6 with 6 right (gap 0).
    probs, labels = rows((0.9, 8, 2), (0.6, 6, 4))
    assert expected_calibration_error(probs, labels) == pytest.approx(0.05)
    bins = reliability(probs, labels, bins=10)
    assert [(b["low"], b["high"], b["count"]) for b in bins] == [(0.5, 0.6, 10), (0.8, 0.9, 10)]
    assert bins[0]["confidence"] == pytest.approx(0.6) and bins[0]["accuracy"] == pytest.approx(0.6)
    assert bins[1]["confidence"] == pytest.approx(0.9) and bins[1]["accuracy"] == pytest.approx(0.8)
    assert expected_calibration_error(np.zeros((0, 3)), []) == 0.0 and reliability(np.zeros((0, 3)), []) == []


def test_threshold_is_the_lowest_confidence_that_reaches_the_target():
    # Kept at >= 0.95: 10/10 right; at >= 0.8: 18/20 = 0.9; at >= 0.6: 20/30.
    assert not_sure_threshold(*rows((0.95, 10, 0), (0.8, 8, 2), (0.6, 2, 8))) == 0.8
    assert not_sure_threshold(*rows((0.8123, 9, 0), (0.6, 1, 9))) == 0.81  # rounded to 2 decimals
    assert not_sure_threshold(*rows((0.99, 10, 0), (0.6, 5, 5))) == 0.95  # clamped from above


def test_threshold_for_a_perfect_and_a_hopeless_classifier():
    assert not_sure_threshold(*rows((0.9, 10, 0), (0.5, 10, 0))) == 0.4  # right at any threshold
    wrong = not_sure_threshold(*rows((0.9, 0, 10), (0.5, 0, 10)))
    assert 0.4 <= wrong <= 0.95
    assert not_sure_threshold(np.zeros((0, 3)), [], target=0.9) == 0.9


def test_threshold_falls_back_to_the_best_accuracy_that_keeps_a_quarter():
    # Nothing reaches 0.9. >= 0.99 keeps 5 of 40 (0.8 right) - under a quarter, so not allowed;
    # >= 0.7 keeps 15 (11/15 = 0.73); keeping everything gives 21/40.
    assert not_sure_threshold(*rows((0.99, 4, 1), (0.7, 7, 3), (0.5, 10, 15))) == 0.7


def test_calibrate_reports_everything_json_safe():
    z, y = calibrated_logits(n=400)
    report = calibrate(torch.tensor(z * 3), torch.tensor(y))
    assert json.loads(json.dumps(report)) == report
    assert set(report) == {"temperature", "ece_before", "ece_after", "threshold", "bins_before", "bins_after",
                           "images"}
    assert report["images"] == 400 and report["temperature"] > 2
    assert report["ece_after"] < report["ece_before"]
    assert sum(b["count"] for b in report["bins_before"]) == sum(b["count"] for b in report["bins_after"]) == 400
    assert report["threshold"] == not_sure_threshold(softmax(z * 3 / report["temperature"], axis=1), y)
