"""Perceptual fingerprints of images, kept once per file contents in the workspace.

A fingerprint is the picture's grey levels shrunk to 16x16 pixels (Pillow's antialiased
bilinear filter). Two files hold the same picture (one resized, or saved again as a JPEG) when
their fingerprints agree in shape (correlation) and in brightness (mean difference): see
``near``. A 64-bit DCT hash (pHash) was measured first and dropped: JPEG copies of clip art
moved up to 31 of its 64 bits, while distinct Fashion-MNIST pictures came within 4.

Fingerprints are kept by the file's SHA-256 (``<workspace>/fingerprints/<first hex digit>.json``),
so each image is decoded for it once, whichever dataset or run asks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from tlcore.atomic import atomic_write_json
from tlcore.data.images import ImageProblem, open_rgb, run_parallel
from tlcore.workspace import workspace_dir

SIDE = 16  # pixels a side of a fingerprint
DRAFT_PX = 64  # JPEGs are decoded reduced to about this: the fingerprint needs 16
_log = logging.getLogger(__name__)


def fingerprint_image(img: Image.Image) -> bytes:
    """The fingerprint of a decoded image: SIDE x SIDE grey levels, row by row."""
    return img.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR).tobytes()


def fingerprint_pixels(x: np.ndarray) -> bytes:
    """The fingerprint of a decoded model input, uint8 [3, H, W] (a run's images in memory)."""
    return fingerprint_image(Image.fromarray(np.ascontiguousarray(x.transpose(1, 2, 0))))


def fingerprint_file(source: str | os.PathLike | bytes) -> bytes:
    """The fingerprint of an image file (path or bytes); ImageProblem if it cannot be read."""
    return fingerprint_image(open_rgb(source, draft_size=DRAFT_PX))


def fingerprints_dir() -> Path:
    """Where fingerprints are kept, by file contents (safe to delete: they are recomputed)."""
    return workspace_dir() / "fingerprints"


def _shard(sha256: str) -> Path:
    return fingerprints_dir() / f"{sha256[0]}.json"


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        _log.warning("Ignoring the damaged fingerprint file %s: %s", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def _parse(text: object) -> bytes | None:
    try:
        data = bytes.fromhex(str(text))
    except ValueError:
        return None
    return data if len(data) == SIDE * SIDE else None


def kept(shas: Sequence[str]) -> dict[str, bytes]:
    """The fingerprints already kept for these file contents (none is computed)."""
    shards: dict[Path, dict[str, str]] = {}
    found: dict[str, bytes] = {}
    for sha in filter(None, shas):
        if _shard(sha) not in shards:
            shards[_shard(sha)] = _read(_shard(sha))
        if (print_ := _parse(shards[_shard(sha)].get(sha, ""))) is not None:
            found[sha] = print_
    return found


def fingerprints(files: Sequence[tuple[str, str]]) -> dict[str, bytes]:
    """Fingerprints of (path, sha256) pairs by sha256: kept ones reused, the others computed in
    parallel and kept. Files that cannot be read any more are left out."""
    wanted = {sha: path for path, sha in files if sha}
    found = kept(list(wanted))
    missing = [sha for sha in wanted if sha not in found]
    results = run_parallel(lambda sha: fingerprint_file(wanted[sha]), missing)
    shards: dict[Path, dict[str, str]] = {}
    for sha, result in zip(missing, results):
        if isinstance(result, ImageProblem):
            continue
        found[sha] = result
        shards.setdefault(_shard(sha), {})[sha] = result.hex()
    _keep(shards)
    return found


def _keep(shards: dict[Path, dict[str, str]]) -> None:
    """Write changed shards, merged with what another process may have written meanwhile; a
    workspace that cannot be written only costs the next caller the decoding."""
    for path, entries in shards.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, {**_read(path), **entries})
        except OSError as e:
            _log.warning("Could not keep fingerprints in %s: %s", path, e)


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's contents ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return ""


def file_size(path: str | os.PathLike) -> tuple[int, int]:
    """An image file's (width, height) from its header ((0, 0) if it cannot be read)."""
    try:
        with Image.open(path) as img:
            return img.size
    except Exception:  # whatever is wrong with it, it has no size to compare
        return 0, 0
