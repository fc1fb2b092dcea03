"""Frozen features of a dataset's labelled and pool images (or texts), computed once and kept with the pool.

They are what a frozen run's head sees (the model's pretrained backbone at the run's image size, or
the sentence encoder's embeddings of the texts, through FeatureNorm), kept by contents (sha256) in
``pool/features-<model>-<size>.npz``, so labelling
retrains a head in a second and a later call computes only images it has not seen. Computing
saves every CHUNK images, so a background computation that is stopped keeps what it did; the
progress callback is called after each chunk with (done, total).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tlcore.atomic import temp_beside

CHUNK = 128  # images decoded and embedded at once (memory: CHUNK x 3 x size x size bytes)
_log = logging.getLogger(__name__)


def cache_path(pool_dir: Path, model: str, image_size: int) -> Path:
    return pool_dir / f"features-{model}-{image_size}.npz"


def read_cache(path: Path) -> dict[str, np.ndarray]:
    """The kept features by sha256 ({} when none, or when the file is damaged: they are recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return dict(zip(data["sha"].tolist(), data["x"]))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError) as e:
        _log.warning("Recomputing the damaged feature file %s: %s", path, e)
        return {}


def _write(path: Path, found: dict[str, np.ndarray]) -> None:
    """Save ``found`` merged with what another process may have saved meanwhile."""
    merged = {**read_cache(path), **found}
    with temp_beside(path, ".npz") as tmp:
        np.savez(tmp, sha=np.array(list(merged)), x=np.stack(list(merged.values())).astype(np.float32))
        os.replace(tmp, path)


class _Features:
    """The run's frozen features of decoded images, or of texts (a text model's token ids, as a text
    run feeds them): the pretrained backbone through FeatureNorm."""

    def __init__(self, model: str, image_size: int) -> None:
        import torch

        from tlcore.config import FASTEST
        from tlcore.models.catalog import get_spec
        from tlcore.models.net import FeatureNorm, build_backbone
        from tlcore.training.augment import BatchPrep
        from tlcore.training.embed import embedder_key
        from tlcore.training.text_inputs import TokenPrep

        self.spec = get_spec(model)
        self.size = image_size
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.backbone = build_backbone(self.spec, "pretrained", image_size)[0].eval().to(self.device)
        self.texts = self.spec.kind == "text"
        self.prep = (TokenPrep(self.device) if self.texts
                     else BatchPrep(self.spec.mean, self.spec.std, self.device, "none", image_size))
        self.norm, self.key, self.embedder = FeatureNorm(), embedder_key(FASTEST, model, image_size), None

    def __call__(self, images) -> np.ndarray:
        """Features of decoded images [N, H, W, 3] uint8, or of a list of texts."""
        import torch

        from tlcore.models.text_net import text_tokenizer
        from tlcore.training.embed import Embedder

        if self.texts:
            images = text_tokenizer(self.spec)(list(images)).ids
        if self.embedder is None:
            self.embedder = Embedder(self.backbone, self.prep, self.device, images, key=self.key)
        with torch.no_grad():
            return self.norm(self.embedder(images).float().cpu()).numpy()


def features(pool_dir: Path, files: Sequence[tuple[str, str]], model: str, image_size: int,
             progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Features by sha256 of (path, sha256) image files, or of (text, sha256) texts for a text
    ``model``: kept ones reused, the rest computed and kept. A file that cannot be read any more is
    left out."""
    from tlcore.data.images import decode_many

    path = cache_path(pool_dir, model, image_size)
    found = read_cache(path)
    wanted = {sha: file for file, sha in files}
    missing = [sha for sha in wanted if sha not in found]
    total, done = len(missing), 0
    if progress:
        progress(0, total)
    compute = _Features(model, image_size) if missing else None
    for start in range(0, total, CHUNK):
        shas = missing[start:start + CHUNK]
        if compute.texts:
            images, failed = [wanted[s] for s in shas], []
        else:
            images, failed = decode_many([wanted[s] for s in shas], image_size)
        unread = set(failed)
        read = [s for k, s in enumerate(shas) if k not in unread]
        if read:
            new = dict(zip(read, compute(images)))
            found.update(new)
            _write(path, new)
        done += len(shas)
        if progress:
            progress(done, total)
    return {sha: found[sha] for sha in wanted if sha in found}
