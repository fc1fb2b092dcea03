"""Temperature scaling, its nested keep-or-refuse check, calibration error and the held-out coverage table,
on synthetic and real (digits) logits."""

import json

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from tlcore.training.calibration import (NO_HELP, calibrate, coverage_table, expected_calibration_error,
                                         fit_temperature, log_loss, nested_probabilities, reliability)


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


def test_a_well_calibrated_set_keeps_a_temperature_of_one():
    """The nested check finds nothing to gain (T fitted near 1): T = 1 ships, with the reason."""
    z, y = calibrated_logits(n=400, seed=3)
    report = calibrate(z, y)
    assert not report["kept"] and report["temperature"] == 1.0
    assert report["fitted_temperature"] == pytest.approx(1.0, abs=0.15)
    assert "already about right" in report["reason"]


def test_an_over_confident_set_with_enough_images_keeps_its_temperature():
    z, y = calibrated_logits(n=300, seed=4)
    report = calibrate(z * 3, y)
    assert report["kept"] and report["temperature"] == report["fitted_temperature"] > 2
    assert report["ece_after"] < report["ece_before"] and report["log_loss_after"] < report["log_loss_before"]
    assert "more trustworthy" in report["reason"]


def test_too_few_images_ship_a_temperature_of_one():
    z, y = calibrated_logits(n=12, seed=5)
    report = calibrate(z * 3, y)
    assert not report["kept"] and report["temperature"] == 1.0 and report["fitted_temperature"] > 1
    assert "too few held-out images (12)" in report["reason"]
    assert report["ece_after"] == report["ece_before"]  # nothing was fitted, nothing is claimed


def test_nested_probabilities_never_use_an_images_own_label():
    """Each fold's temperature is fitted without it: changing one image's label changes only the
    other folds' probabilities, never its own (its fold's T comes from the others)."""
    z, y = calibrated_logits(n=100, seed=6)
    first = nested_probabilities(z * 3, y, seed=0)
    changed = y.copy()
    changed[0] = (y[0] + 1) % 5
    second = nested_probabilities(z * 3, changed, seed=0)
    assert np.allclose(first.sum(axis=1), 1)
    assert not np.allclose(first, second)  # the label moved the other folds' temperatures
    assert log_loss(first, y) < log_loss(softmax(z * 3, axis=1), y)


def test_an_adjustment_that_does_not_hold_out_of_sample_is_refused():
    """30 images whose logits are calibrated (T = 1 is right): chance pulls the fitted T to about 1.6,
    and the nested check sees the calibration error grow on the folds it was not fitted on."""
    z, y = calibrated_logits(n=30, seed=23)
    report = calibrate(z, y)
    assert report["fitted_temperature"] > 1.4
    assert report["ece_after"] > report["ece_before"]
    assert not report["kept"] and report["temperature"] == 1.0
    assert report["reason"] == NO_HELP


def test_calibrate_reports_everything_json_safe():
    z, y = calibrated_logits(n=400)
    report = calibrate(torch.tensor(z * 3), torch.tensor(y))
    assert json.loads(json.dumps(report)) == report
    assert set(report) == {"kept", "reason", "temperature", "fitted_temperature", "images", "ece_before", "ece_after",
                           "log_loss_before", "log_loss_after", "bins_before", "bins_after"}
    assert report["images"] == 400 and report["temperature"] > 2
    assert sum(b["count"] for b in report["bins_before"]) == sum(b["count"] for b in report["bins_after"]) == 400


def test_coverage_table_keeps_the_lowest_threshold_for_each_share_right():
    # 10 at 0.95 all right; 10 at 0.8 with 8 right; 10 at 0.6 with 2 right.
    table = coverage_table(*rows((0.95, 10, 0), (0.8, 8, 2), (0.6, 2, 8)), split="test")
    assert table == {"split": "test", "images": 30, "rows": [[0.0, 30, 20], [0.8, 20, 18], [0.95, 10, 10]]}
    assert json.loads(json.dumps(table)) == table
    # A threshold whose share right is no better than a lower one's is left out.
    table = coverage_table(*rows((0.9, 5, 5), (0.7, 8, 2)), split="cv")
    assert table["rows"] == [[0.0, 20, 13]]
    assert coverage_table(np.zeros((0, 3)), [], "val") == {"split": "val", "images": 0, "rows": []}
