"""The epoch loop's metrics equal scikit-learn's, including classes with no images or answers."""

import warnings

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tlcore.training.metrics import classification_metrics


def test_metrics_match_scikit_learn_on_random_labels():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k, n = int(rng.integers(1, 7)), int(rng.integers(1, 30))
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        got = classification_metrics(y_true, y_pred, [str(i) for i in range(k)], loss=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), zero_division=0)
            cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
        for name, want in (("precision", p), ("recall", r), ("f1", f), ("support", s)):
            assert np.allclose([got["per_class"][str(i)][name] for i in range(k)], want), name
        assert np.allclose([got["precision_macro"], got["recall_macro"], got["f1_macro"]], [p.mean(), r.mean(), f.mean()])
        assert got["accuracy"] == np.mean(y_true == y_pred) and got["confusion_matrix"] == cm.tolist()
        assert got["count"] == n and got["loss"] == 0.5


def test_no_images_scores_zero():
    got = classification_metrics([], [], ["a", "b"])
    assert got["accuracy"] == 0.0 and got["f1_macro"] == 0.0 and got["confusion_matrix"] == [[0, 0], [0, 0]]
