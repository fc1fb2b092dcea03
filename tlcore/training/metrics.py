"""Classification metrics, computed with scikit-learn, as JSON-safe dicts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: list[str],
                           loss: float | None = None) -> dict:
    """Accuracy, macro precision/recall/F1, per-class scores and the confusion matrix.

    Classes absent from both ``y_true`` and ``y_pred`` score 0 rather than raising, so that a
    tiny validation set still gets a report.
    """
    labels = list(range(len(classes)))
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "precision_macro": float(np.mean(p)),
        "recall_macro": float(np.mean(r)),
        "f1_macro": float(np.mean(f)),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "classes": list(classes),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "count": int(len(y_true)),
    }
    if loss is not None:
        out["loss"] = float(loss)
    return out
