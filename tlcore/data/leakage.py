"""Copies of training images among the images that score a model (validation and test).

A copy is the same file (same SHA-256) or the same picture resized or saved again as a JPEG
(fingerprints that agree, tlcore/data/fingerprint.py). A copy among the scored images makes the
score too high: the model was trained on the picture it is asked about. The limits below were
tuned on bench/judge_leakage.py's tuning draw and checked on its other draws.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tlcore.data.fingerprint import fingerprint_pixels, fingerprints, kept

# Two fingerprints show the same picture when 1 - their correlation (shape) and their mean
# absolute difference in grey levels (0-255, shift) are both within LIMITS. Resizing blurs, and
# blurs small pictures most: for two pictures of different sizes, both under SMALL_PX on a side,
# the limits are RESIZED_SMALL.
LIMITS, RESIZED_SMALL = (0.006, 3.5), (0.013, 9.0)
SMALL_PX = 48
HELD_OUT = ("test", "val")
WORDS = {"val": "validation", "test": "test"}
_BLOCK = 512  # scored images compared at once (memory: BLOCK x training images floats)
Size = tuple[int, int]
Entry = tuple[str, bytes | None, Size]  # (sha256, fingerprint, (width, height)) of one image


class Picture(Protocol):
    """What the search needs of an image: where it is, its contents' hash, split and size."""

    path: str
    sha256: str
    split: str
    width: int
    height: int


@dataclass(frozen=True)
class Copy:
    """A scored image that is a copy of a training image."""

    path: str
    split: str
    of: str  # the training image's path
    exact: bool


def _vectors(prints: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Fingerprints as grey levels [N, 256], and as centred unit vectors (for correlation)."""
    grey = np.frombuffer(b"".join(prints), dtype=np.uint8).reshape(len(prints), -1).astype(np.float32)
    centred = grey - grey.mean(1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return grey, np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)


def _limits(sizes: np.ndarray, size: Size) -> tuple[np.ndarray, np.ndarray]:
    """The (shape, shift) limits between a picture of ``size`` and pictures of ``sizes`` [N, 2]."""
    small = ~(sizes == size).all(1) & (np.maximum(sizes.min(1), min(size)) < SMALL_PX)
    return np.where(small, RESIZED_SMALL[0], LIMITS[0]), np.where(small, RESIZED_SMALL[1], LIMITS[1])


def _nearest(scored: Sequence[Entry], train: Sequence[Entry], itself: list[int]) -> list[int | None]:
    """For each scored image, the closest training one that shows the same picture (None if none),
    never the training one at ``itself[row]`` (the image itself, or -1)."""
    if not scored or not train:
        return [None] * len(scored)
    t_grey, t_unit = _vectors([p for _, p, _ in train])
    t_size = np.array([size for _, _, size in train]).reshape(len(train), 2)
    out: list[int | None] = []
    for start in range(0, len(scored), _BLOCK):
        block = scored[start:start + _BLOCK]
        s_grey, s_unit = _vectors([p for _, p, _ in block])
        shape = 1 - s_unit @ t_unit.T
        for row, own in enumerate(itself[start:start + _BLOCK]):
            if own >= 0:
                shape[row, own] = np.inf
        for row, candidates in enumerate(shape <= RESIZED_SMALL[0]):
            found = np.flatnonzero(candidates)
            max_shape, max_shift = _limits(t_size[found], block[row][2])
            shift = np.abs(t_grey[found] - s_grey[row]).mean(1)
            ok = found[(shape[row, found] <= max_shape) & (shift <= max_shift)]
            out.append(int(ok[np.argmin(shape[row, ok])]) if len(ok) else None)
    return out


def matches(train: Sequence[Entry], scored: Sequence[Entry], same: bool = False) -> list[tuple[int, int, bool]]:
    """(scored index, training index, exact) for each scored image that copies a training one:
    by hash first, then by fingerprint (an image without one is matched by hash only). With
    ``same`` (cross-validation) ``scored`` is ``train``, and each image is matched to the others."""
    groups: dict[str, list[int]] = defaultdict(list)
    for k, (sha, _, _) in enumerate(train):
        if sha:
            groups[sha].append(k)
    found, rest = [], []
    for i, (sha, _, _) in enumerate(scored):
        twin = next((k for k in groups.get(sha, ()) if not (same and k == i)), None)
        (found.append((i, twin, True)) if twin is not None else rest.append(i))
    known = [k for k, entry in enumerate(train) if entry[1]]
    place = {k: n for n, k in enumerate(known)}
    asked = [i for i in rest if scored[i][1]]
    itself = [place.get(i, -1) if same else -1 for i in asked]
    nearest = _nearest([scored[i] for i in asked], [train[k] for k in known], itself)
    return sorted(found + [(i, known[k], False) for i, k in zip(asked, nearest) if k is not None])


def _entry(image: Picture, prints: dict[str, bytes]) -> Entry:
    return image.sha256, prints.get(image.sha256), (image.width, image.height)


def find_copies(items: Sequence[Picture]) -> dict[str, list[Copy]]:
    """Validation and test images that copy training images (an image not yet given a split
    counts as training), by split; a split without copies is left out."""
    train = [i for i in items if i.split not in HELD_OUT]
    held = [i for i in items if i.split in HELD_OUT]
    if not train or not held:
        return {}
    prints = fingerprints([(i.path, i.sha256) for i in (*train, *held)])
    out: dict[str, list[Copy]] = {}
    for split in HELD_OUT:
        scored = [i for i in held if i.split == split]
        pairs = matches([_entry(i, prints) for i in train], [_entry(i, prints) for i in scored])
        if pairs:
            out[split] = [Copy(scored[s].path, split, train[t].path, exact) for s, t, exact in pairs]
    return out


def count_copies(train: Sequence[tuple[str, Size]], train_x: np.ndarray, scored: Sequence[tuple[str, Size]] = (),
                 scored_x: np.ndarray | None = None) -> int:
    """How many scored images (model inputs, uint8 [N, 3, S, S], with their files' sha256 and
    (width, height)) copy a training image; without scored images, how many training images copy
    another (the count for cross-validation, where every training image is scored).

    Where every file's fingerprint is kept (the Data page's audit keeps them), those are used, so a
    run counts what the audit named; otherwise they are taken from the model inputs, which decodes
    nothing again and is a little less exact (bench/judge_leakage.py measures both)."""
    prints = kept([sha for sha, _ in (*train, *scored)])
    from_files = all(sha in prints for sha, _ in (*train, *scored))

    def entries(files: Sequence[tuple[str, Size]], x: np.ndarray) -> list[Entry]:
        return [(sha, prints[sha] if from_files else fingerprint_pixels(pixels), size)
                for (sha, size), pixels in zip(files, x)]

    known = entries(train, train_x)
    if scored_x is None:
        return len(matches(known, known, same=True))
    return len(matches(known, entries(scored, scored_x)))


def plural(n: int, word: str) -> str:
    """"1 test image", "4 test images"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def copies_tip(split: str, copies: list[Copy]) -> str:
    """The audit's sentence for one split's copies of training images."""
    n, words = len(copies), WORDS[split]
    verb = "is a copy of a training image" if n == 1 else "are copies of training images"
    how = "" if all(c.exact for c in copies) else " (resized or saved again)" if n == 1 else \
        " (some resized or saved again)"
    them = "it" if n == 1 else "them"
    return (f"{plural(n, words + ' image')} {verb}{how}; the {words} score would be too high. Remove "
            f"{them} from the {words} images, or keep {them}: the score then says how many of its "
            "images are copies.")
