"""The order in which to ask about unlabelled images: what teaches the model most next.

Each batch has two parts, and the share of the first falls as the labels grow. The first covers
what the labels have not reached yet (TypiClust, Hacohen et al. 2022, for a small budget): the pool
and the labelled images are grouped into as many k-means clusters as there are labels plus picks,
and the most typical image (the densest among its nearest neighbours) is taken from each of the
largest clusters that hold the fewest labels. A few labels train a weak head whose most uncertain
images are often odd ones (a strange drawing, a bad crop); typical images of uncovered groups teach
more then. Once each class has a fair number of labels the head is good and its boundary is what
is left to learn, so coverage only spends labels (the same paper: typical images win at a small
budget, uncertainty at a large one). The second part refines the boundary: a short list of the most
uncertain images (a small margin between the two likeliest classes; four for each image of a
batch), grouped into as many k-means clusters as that part has images, one taken from each, most
uncertain first, so a burst of 20 near-identical photos is asked about once. The rest follow by
margin; exact copies of labelled images go last (their label is already known). The typical share
(``typical_share``) is the whole batch at no labels and falls in a straight line to none at
TYPICAL_UNTIL (20) labels a class; from there on the order is margin with clusters.

How it was chosen (bench/labeling.py, seeds 5-7, not the reported seeds 0-4; accuracy at 50 / 100 /
200 labels, then the labels needed for 95% of the full pool's accuracy). Clip art: random order 57.0
/ 62.8 / 63.9%, 620; margin alone 55.9 / 60.1 / 64.1% (below random early: odd images); half typical
in every batch 56.6 / 63.4 / 64.8% (and on seeds 0-4 it needed 540 against random's 640: coverage
kept spending labels); half typical up to 10 labels a class, then margin, 56.6 / 60.7 / 66.7%, 400;
up to 20 a class 56.6 / 63.4 / 66.8%, 410; the whole batch falling to none at 20 a class 61.4 / 63.4
/ 66.3%, 310 (at 15 a class 59.4 / 63.4 / 67.0%, 350). Digits (Lite0 features): random 77.1 / 80.8 /
87.3%, 460; half typical up to 10 a class 80.0 / 86.7 / 92.2%, 170; up to 20 a class 80.0 / 86.7 /
91.1%, 210; a half batch falling to none at 20 a class 81.0 / 84.5 / 92.0%, 200 (at 40 a class 82.1 /
85.8 / 91.7%, 190); the whole batch falling to none at 20 a class 79.0 / 85.1 / 92.2%, 190 (at 15 a
class 78.7 / 85.1 / 91.7%, 190). Only the whole batch falling is above random at 50, 100 and 200
labels on both sets with at most 60% of random's labels on both (at 20 a class: 0.50 and 0.41); a
whole batch of typical images at first is what lifts clip art at 50 labels. Weighting the margin by
density instead was below random at 100 and 200; clustering all 1,280 dimensions rather than 32
principal axes was no better and 15 times slower. On the ten seeds never used to choose it (0-4 and
10-14, README) it is above random at 50, 100 and 200 labels on all four sets and needs 57-59% of
random's labels on each; on seeds 0-4 alone it was under 60% on Fashion-MNIST only (0.53; the other
three 0.61-0.62, one batch of 10 over), on seeds 10-14 alone on digits and digits-pixels (0.51, 0.59).

Tried since (2026-12-07), none kept. On seeds 5-7, labels needed on digits / digits-pixels / clip
art (this rule: 190 / 150 / 310): BADGE (k-means++ on the head's gradient embeddings) in place of
the short list 220 / 200 / 540; the most typical image of each short-list cluster rather than the
most uncertain 210 / 190 / 400; short lists of 2 a pick 210 / 200 / 310, of 8 a pick 190 / 170 / 390;
typical images to 10 labels a class 180 / 140 / 410 (and Fashion-MNIST 260 against 190). On seeds
5-9, mean accuracy up to 200 labels on digits / digits-pixels / Fashion-MNIST / clip art, this rule
84.2 / 84.4 / 78.6 / 62.7% (random 80.3 / 81.3 / 76.3 / 59.1%); leaving out the typical images the
head is already 90% sure of 85.2 / 84.6 / 78.6 / 62.2%, labels needed 160 / 170 / 290 / over 300
against 210 / 150 / 190 / over 300; typical images only from clusters without labels at least the
median cluster's size (the data deciding the share) 82.9 / 83.0 / 77.9 / 60.5% (it asked for more
typical images as labels grew), or under this rule's share 84.2 / 84.5 / 77.9 / 60.3%. Near the
target the curves are flat: leaving out the sure typical images moved Fashion-MNIST's labels needed
from 190 to 290 with the mean accuracy from 200 to 300 labels at 82.75% against 82.95%. Every change
tried was worse than this rule on at least one set.

Tried later the same day, seeds 5-9, mean accuracy up to 200 labels on digits / digits-pixels /
Fashion-MNIST / clip art (this rule 84.2 / 84.4 / 78.6 / 62.7%), none kept, each below this rule on
at least three sets: the margin of the mean of the head's and the five cross-validation fold heads'
probabilities (a committee the calibration trains anyway) 83.8 / 84.0 / 78.0 / 60.6%; the margin of
the mean of the head's and label spreading's probabilities (10 neighbours on the 32 axes) 83.9 /
84.5 / 78.0 / 60.6%; the margin between logits rather than probabilities 83.7 / 83.8 / 78.0 / 61.2%;
the short list spread over pairs of likeliest classes rather than k-means clusters 83.8 / 83.9 /
78.5 / 61.3%; the least typical 10% of the pool kept off the short list 83.8 / 83.2 / 78.0 / 60.7%
(25%: 83.6 / 82.9 / 78.0 / 61.3%): odd images near the boundary teach. The same script reproduces
this rule's figures to the digit, so the spread between near-equal rules (1.5 points on clip art
for the logit margin) is the noise of five seeds.
"""

from __future__ import annotations

import warnings

import numpy as np

# The short list holds this many images for each one a batch asks about: more favours diversity,
# fewer favours uncertainty (bench/labeling.py, Fashion-MNIST: 2 and 4 alike; with 2 a burst of 20
# near-copies fills the list of a batch of 10).
CANDIDATES_PER_PICK = 4
# A pool image this close to a labelled one (squared distance between unit-length features) is a copy.
COPY_DISTANCE = 1e-6
NEIGHBOURS = 20  # typicality: mean similarity to this many nearest pool images (TypiClust's 20)
DENSITY_SAMPLE = 2000  # typicality is measured against at most this many pool images (a seeded draw)
COMPONENTS = 32  # principal axes the typical images' clustering uses (k-means on 1,280 dimensions took 27 s)
# Labels a class by which batches hold no typical images any more (bench/labeling.py, seeds 5-7; see above).
TYPICAL_UNTIL = 20


def typical_share(labels: int, classes: int, batch: int) -> int:
    """How many images of a batch of ``batch`` are typical ones when ``labels`` labels cover ``classes``
    classes: all of it at none a class, fewer as labels grow, none from TYPICAL_UNTIL a class on."""
    return int(round(batch * max(0.0, 1 - labels / (max(classes, 1) * TYPICAL_UNTIL))))


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


def typicality(x: np.ndarray, seed: int = 0, chunk: int = 1024) -> np.ndarray:
    """Each unit row's mean similarity to its NEIGHBOURS nearest rows (among at most DENSITY_SAMPLE
    of them): high in dense regions, low for outliers."""
    ref = x if len(x) <= DENSITY_SAMPLE else x[np.random.default_rng(seed).choice(len(x), DENSITY_SAMPLE, False)]
    k = min(NEIGHBOURS, len(ref) - 1)
    out = np.ones(len(x), dtype=np.float32)
    if k < 1:
        return out
    for i in range(0, len(x), chunk):
        top = np.partition(x[i:i + chunk] @ ref.T, -(k + 1), axis=1)[:, -(k + 1):]
        out[i:i + chunk] = (top.sum(axis=1) - top.max(axis=1)) / k  # the nearest is (mostly) the row itself
    return out


def _kmeans(x: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Each row's k-means cluster (all 0 for one cluster)."""
    from sklearn.cluster import KMeans

    if clusters <= 1:
        return np.zeros(len(x), dtype=np.int64)
    with warnings.catch_warnings():  # fewer distinct rows than clusters only leaves some clusters empty
        warnings.simplefilter("ignore")
        return KMeans(clusters, n_init=1, random_state=seed % 2**32).fit_predict(x)


def by_cluster(x: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Indices of every row of ``x`` (already in margin order), taking turns among ``clusters`` k-means
    clusters: the first (most uncertain) row of each cluster, then the second of each, and so on."""
    which = _kmeans(x, clusters, seed)
    rank = np.zeros(len(x), dtype=np.int64)
    for c in np.unique(which):
        members = np.flatnonzero(which == c)
        rank[members] = np.arange(len(members))
    return np.lexsort((np.arange(len(x)), rank))


def principal(x: np.ndarray, seed: int) -> np.ndarray:
    """Unit rows of ``x`` on its COMPONENTS principal axes (fewer when there are fewer rows): k-means
    and neighbours on 2,000 images take a fraction of a second there, not half a minute."""
    from sklearn.decomposition import PCA

    dims = min(COMPONENTS, x.shape[1], len(x) - 1)
    if dims < 2:
        return x
    return unit_rows(PCA(dims, svd_solver="randomized", random_state=seed % 2**32).fit_transform(x))


def typical_picks(x: np.ndarray, done: np.ndarray, picks: int, seed: int) -> np.ndarray:
    """``picks`` indices of rows of ``x`` (unit rows of pool images) where the labels ``done`` have
    not reached: k-means on both into len(done) + picks clusters, the largest clusters holding the
    fewest labels first, the most typical pool image of each."""
    if picks <= 0 or len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    both = principal(np.concatenate([x, done]), seed)
    x = both[:len(x)]
    which = _kmeans(both, min(len(done) + picks, len(x)), seed)
    in_pool, in_done = which[:len(x)], which[len(x):]
    size, labels = np.bincount(in_pool, minlength=which.max() + 1), np.bincount(in_done, minlength=which.max() + 1)
    typical = typicality(x, seed)
    out = []
    for c in np.lexsort((-size, labels)):
        if size[c] and len(out) < picks:
            members = np.flatnonzero(in_pool == c)
            out.append(members[np.argmax(typical[members])])
    return np.array(out, dtype=np.int64)


def teaching_order(pool: np.ndarray, probs: np.ndarray, labelled: np.ndarray, batch: int = 10,
                   seed: int = 0, per_pick: int | None = None, typical: int | None = None) -> np.ndarray:
    """Every pool index, in the order to ask about them.

    First ``typical`` images (``typical_share`` of the batch unless given) where the labels have not reached
    (``typical_picks``); then the ``per_pick`` x ``batch`` smallest-margin images of the rest (ties
    broken by a seeded shuffle), taking turns among as many k-means clusters of their features as
    the batch has images left (``by_cluster``); the rest follow by margin, smallest first; copies of labelled images come last.

    Args:
        pool: [P, D] features of the unlabelled images.
        probs: [P, C] the model's probabilities for them.
        labelled: [L, D] features of the labelled images.
        batch: how many images the user is asked about at a time.
        seed: the tie-breaking shuffle's and the clusterings' seed.
        per_pick: candidates on the short list for each uncertain image of a batch (1: margin alone).
        typical: typical images a batch starts with (0: uncertainty alone; None: ``typical_share``).
    Returns:
        [P] a permutation of range(P).
    """
    x, done = unit_rows(pool), unit_rows(labelled)
    copies = nearest_distance(x, done) <= COPY_DISTANCE
    fresh = np.flatnonzero(~copies)
    shuffle = np.random.default_rng(seed).permutation(len(x))
    by_margin = shuffle[np.argsort(margins(probs)[shuffle], kind="stable")]
    by_margin = np.concatenate([by_margin[~copies[by_margin]], by_margin[copies[by_margin]]])
    typical = typical_share(len(labelled), probs.shape[1], batch) if typical is None else typical
    first = fresh[typical_picks(x[fresh], done, min(typical, len(fresh)), seed)]
    rest = by_margin[~np.isin(by_margin, first)]
    uncertain = max(min(batch, len(fresh)) - len(first), 0)
    short = rest[:min(len(fresh) - len(first), (per_pick or CANDIDATES_PER_PICK) * max(batch, 1) if uncertain else 0)]
    spread = short[by_cluster(x[short], min(uncertain, len(short)), seed)]
    return np.concatenate([first, spread, rest[len(short):]])
