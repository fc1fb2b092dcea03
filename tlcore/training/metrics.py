"""Classification metrics from the confusion matrix, as JSON-safe dicts (the same numbers as
scikit-learn's precision_recall_fscore_support with zero_division=0, at a fraction of its cost:
the epoch loop computes them twice an epoch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: list[str],
                           loss: float | None = None) -> dict:
    """Accuracy, macro precision/recall/F1, per-class scores and the confusion matrix.

    Classes absent from both ``y_true`` and ``y_pred`` score 0 rather than raising, so that a
    tiny validation set still gets a report.
    """
    k = len(classes)
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    cm = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp, support, predicted = np.diag(cm).astype(float), cm.sum(1), cm.sum(0)
    p, r = _ratio(tp, predicted), _ratio(tp, support)
    f = _ratio(2 * p * r, p + r)
    out = {
        "accuracy": float(tp.sum() / len(y_true)) if len(y_true) else 0.0,
        "precision_macro": float(np.mean(p)),
        "recall_macro": float(np.mean(r)),
        "f1_macro": float(np.mean(f)),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
            for i, c in enumerate(classes)
        },
        "classes": list(classes),
        "confusion_matrix": cm.tolist(),
        "count": int(len(y_true)),
    }
    if loss is not None:
        out["loss"] = float(loss)
    return out
