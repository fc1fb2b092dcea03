"""Confidence that means what it says: temperature scaling, calibration error and the "not sure" threshold.

A network trained on few images is usually over-confident: it says 99 % and is right 85 % of the
time. Dividing its logits by one number T, fitted on held-out images, fixes most of that without
changing any prediction (the argmax is the same for every T > 0).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

T_MIN, T_MAX = 0.05, 20.0
THRESHOLD_MIN, THRESHOLD_MAX = 0.4, 0.95


def _array(x, dtype) -> np.ndarray:
    """A numpy copy of a torch tensor, array or list."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def fit_temperature(logits, labels) -> float:
    """The temperature T in [0.05, 20] that minimises the NLL of softmax(logits / T) on held-out images.

    Args:
        logits: [N, C] held-out logits (torch tensor or numpy array).
        labels: [N] true class indices.
    Returns:
        T; 1.0 when there are fewer than 2 images or every logit is equal (nothing to fit).
    """
    z = _array(logits, np.float64)
    y = _array(labels, np.int64)
    if len(z) < 2 or np.ptp(z) == 0:
        return 1.0
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-log_softmax(z / math.exp(log_t), axis=1)[rows, y].mean())

    # The NLL is convex in 1/T, hence unimodal in log T: a bounded 1-D search finds the minimum.
    best = minimize_scalar(nll, bounds=(math.log(T_MIN), math.log(T_MAX)), method="bounded",
                           options={"xatol": 1e-5})
    return float(min(max(math.exp(best.x), T_MIN), T_MAX))


def _confidence_bins(probs, labels, bins: int) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """(low, high, top-class confidences, correct flags) for each non-empty equal-width bin (low, high]."""
    p = _array(probs, np.float64)
    y = _array(labels, np.int64)
    conf = p.max(axis=1) if len(p) else np.zeros(0)
    correct = (p.argmax(axis=1) == y) if len(p) else np.zeros(0, dtype=bool)
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    return [(b / bins, (b + 1) / bins, conf[which == b], correct[which == b])
            for b in range(bins) if np.any(which == b)]


def expected_calibration_error(probs, labels, bins: int = 15) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over equal-width bins."""
    n = len(_array(labels, np.int64))
    if n == 0:
        return 0.0
    return float(sum(len(c) * abs(ok.mean() - c.mean()) for _, _, c, ok in _confidence_bins(probs, labels, bins)) / n)


def reliability(probs, labels, bins: int = 10) -> list[dict]:
    """Reliability-diagram rows, one per non-empty bin: low, high, confidence, accuracy, count."""
    return [{"low": float(lo), "high": float(hi), "confidence": float(c.mean()), "accuracy": float(ok.mean()),
             "count": int(len(c))}
            for lo, hi, c, ok in _confidence_bins(probs, labels, bins)]


def not_sure_threshold(probs, labels, target: float = 0.9) -> float:
    """The default confidence below which the Use page answers "not sure", from held-out predictions.

    The rule: take the lowest threshold t such that the held-out predictions with confidence
    at or above t are right at least ``target`` of the time (t is 0 when all of them already are).
    If no threshold gets there, take the one whose kept predictions are right most often among
    thresholds that still keep at least a quarter of them (the lowest such t on a tie). The result
    is kept between 0.4 and 0.95 and rounded to 2 decimals. With no held-out images it is ``target``,
    which is right for a calibrated model.
    """
    p = _array(probs, np.float64)
    y = _array(labels, np.int64)
    if len(p) == 0:
        return round(min(max(target, THRESHOLD_MIN), THRESHOLD_MAX), 2)
    conf = p.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    conf = conf[order]
    kept = np.arange(1, len(conf) + 1)
    accuracy = np.cumsum(p.argmax(axis=1)[order] == y[order]) / kept
    # Threshold t = conf[i] keeps every prediction with the same confidence too: use each value's last position.
    last = np.append(conf[1:] != conf[:-1], True)
    thresholds, kept, accuracy = conf[last].copy(), kept[last], accuracy[last]
    thresholds[-1] = 0.0  # keeping everything: the lowest threshold that does so is 0
    good = np.flatnonzero(accuracy >= target)
    if len(good):
        t = thresholds[good[-1]]  # thresholds run high to low
    else:
        enough = np.flatnonzero(kept * 4 >= len(conf))
        best = enough[accuracy[enough] == accuracy[enough].max()]
        t = thresholds[best[-1]]
    return round(float(min(max(t, THRESHOLD_MIN), THRESHOLD_MAX)), 2)


def calibrate(logits, labels) -> dict:
    """Fit the temperature on held-out logits and report calibration before/after, JSON-safe.

    Returns:
        {"temperature", "ece_before", "ece_after", "threshold", "bins_before", "bins_after", "images"};
        the threshold is ``not_sure_threshold`` on the calibrated probabilities.
    """
    z = _array(logits, np.float64)
    y = _array(labels, np.int64)
    t = fit_temperature(z, y)
    before = softmax(z, axis=1) if len(z) else z
    after = softmax(z / t, axis=1) if len(z) else z
    return {
        "temperature": t,
        "ece_before": expected_calibration_error(before, y),
        "ece_after": expected_calibration_error(after, y),
        "threshold": not_sure_threshold(after, y),
        "bins_before": reliability(before, y),
        "bins_after": reliability(after, y),
        "images": int(len(y)),
    }
