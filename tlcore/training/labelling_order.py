"""The order in which to ask about unlabelled images: what teaches the model most next.

An image the model is torn about (a small margin between its two likeliest classes) teaches more
than one it is sure of; but the most uncertain images are often near-copies of each other (a burst
of 20 photos of the same part), and asking about all of them teaches what one answer would. So the
order takes a short list of the most uncertain images and picks among them by k-center greedy on
the features: each next image is the one farthest from everything already labelled or already
picked. Exact copies of labelled images go last: their label is already known.
"""

from __future__ import annotations

import numpy as np

# The short list holds this many images for each one a batch asks about: more favours diversity,
# fewer favours uncertainty (bench/labeling.py measured 2, 4 and 8; see its README table).
CANDIDATES_PER_PICK = 4
# A pool image this close to a labelled one (squared distance between unit-length features) is a copy.
COPY_DISTANCE = 1e-6


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to length 1 (float32; an all-zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


def nearest_distance(x: np.ndarray, centres: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Each row of ``x``'s squared distance to its nearest row of ``centres`` (both unit rows);
    infinite when there are no centres."""
    if len(centres) == 0:
        return np.full(len(x), np.inf, dtype=np.float32)
    out = np.empty(len(x), dtype=np.float32)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = np.maximum(2 - 2 * (x[i:i + chunk] @ centres.T).max(axis=1), 0)
    return out


def margins(probs: np.ndarray) -> np.ndarray:
    """The gap between each row's two largest probabilities (0: torn; 1: sure)."""
    top = np.sort(np.asarray(probs, dtype=np.float64), axis=1)
    return top[:, -1] - top[:, -2] if top.shape[1] > 1 else np.ones(len(top))


def k_center_greedy(x: np.ndarray, start: np.ndarray, picks: int) -> np.ndarray:
    """Indices of ``picks`` rows of ``x``, each the farthest from the rows picked before it and from
    ``start`` (each row's squared distance to what is already covered); ties go to the lower index."""
    dist = start.astype(np.float32).copy()
    chosen = []
    for _ in range(min(picks, len(x))):
        i = int(np.argmax(dist))
        chosen.append(i)
        dist = np.minimum(dist, np.maximum(2 - 2 * (x @ x[i]), 0))
        dist[i] = -1.0  # never picked twice, even when every distance is 0
    return np.array(chosen, dtype=np.int64)


def teaching_order(pool: np.ndarray, probs: np.ndarray, labelled: np.ndarray, batch: int = 10,
                   seed: int = 0, per_pick: int = CANDIDATES_PER_PICK) -> np.ndarray:
    """Every pool index, in the order to ask about them.

    The ``per_pick * batch`` smallest-margin images (ties broken by a seeded shuffle) are ordered by
    k-center greedy on unit-length features, counting the labelled images as already covered; the
    rest follow by margin, smallest first; copies of labelled images come last.

    Args:
        pool: [P, D] features of the unlabelled images.
        probs: [P, C] the model's probabilities for them.
        labelled: [L, D] features of the labelled images.
        batch: how many images the user is asked about at a time.
        seed: the tie-breaking shuffle's seed.
        per_pick: candidates on the short list for each image of a batch (1: margin alone).
    Returns:
        [P] a permutation of range(P).
    """
    x, done = unit_rows(pool), unit_rows(labelled)
    covered = nearest_distance(x, done)
    copies = covered <= COPY_DISTANCE
    shuffle = np.random.default_rng(seed).permutation(len(x))
    by_margin = shuffle[np.argsort(margins(probs)[shuffle], kind="stable")]
    by_margin = np.concatenate([by_margin[~copies[by_margin]], by_margin[copies[by_margin]]])
    fresh = int((~copies).sum())
    short = by_margin[:min(fresh, max(per_pick * batch, batch))]
    spread = short[k_center_greedy(x[short], covered[short], len(short))]
    return np.concatenate([spread, by_margin[len(short):]])
