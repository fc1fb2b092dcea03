"""Blank and near-blank images: a fully transparent picture, a one-colour fill, an empty page
scanned. They show nothing to learn from, and a model's answer on them means nothing.

Measured: an image is near-blank when, after its transparency is laid on white (as every image in
tlcore is, tlcore.data.images) and it is shrunk to SIDE x SIDE pixels by averaging, none of its red,
green and blue channels varies by BLANK_STD grey levels (of 255, standard deviation) or more. The
shrinking averages away sensor noise and JPEG speckle, which would make an empty picture look
varied; a picture's shapes survive it, even at low contrast: a grey object 12 levels darker than
its background, on a quarter of the picture, varies by about 5 levels (tests/test_blank.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from tlcore.data.images import ImageProblem, open_rgb, run_parallel

SIDE = 32  # pixels a side of the shrunk picture
BLANK_STD = 2.0  # grey levels (of 255): below this in every channel, the picture is blank
DRAFT_PX = 64  # JPEGs are decoded reduced to about this, as fingerprints are


class Located(Protocol):
    path: str


def spread(source: str | os.PathLike | bytes) -> float:
    """The largest standard deviation (grey levels) of an image's colour channels, shrunk to SIDE
    pixels a side; ImageProblem if it cannot be read."""
    img = open_rgb(source, draft_size=DRAFT_PX).resize((SIDE, SIDE), Image.Resampling.BOX)
    return float(np.asarray(img, dtype=np.float32).reshape(-1, 3).std(0).max())


def find_blank(items: Sequence[Located]) -> list[Located]:
    """The blank and near-blank images among ``items`` (those that cannot be read are left out)."""
    spreads = run_parallel(lambda item: spread(item.path), items)
    return [item for item, s in zip(items, spreads) if not isinstance(s, ImageProblem) and s < BLANK_STD]


def blank_tip(n: int) -> str:
    """The audit's sentence for ``n`` blank images."""
    them = "it" if n == 1 else "them"
    verb = "is blank or nearly blank" if n == 1 else "are blank or nearly blank"
    return (f"{n} image{'s' * (n != 1)} {verb} (one colour, or fully transparent): nothing to learn from, "
            f"and a score on {them} means nothing. Leave {them} out.")
