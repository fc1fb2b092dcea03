"""The judgment benchmarks' text set: the development set (bench/text_data.py) through a frozen text
run's own code path, for bench/judge_labels.py and bench/judge_calibration.py.

Features: the studio's text encoder as bench/quality_text.py runs it (``pooled_views`` of
all-MiniLM-L6-v2), computed once for every text of the set and cached in bench/out (like the image
benchmarks' features, they depend only on the text). Heads: what a default frozen text run fits
(tlcore.training.engine): the class names' features, the recipe's 5-fold out-of-fold logits on
the engine's folds (the held-out logits ``finish_run`` hands to the label check and the
calibration), and the recipe fitted on all training texts for the test texts.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality_text import _encoder, draw, embed_all  # noqa: E402
from bench.text_data import OUT as DATA  # noqa: E402
from bench.text_data import main as build_data  # noqa: E402

NAME = "Debian package descriptions"


@dataclass
class TextSet:
    """The development set's features, classes and splits, and its class names' features."""

    features: np.ndarray  # [N, D], every text of the set
    labels: np.ndarray  # [N] class indices
    classes: list[str]
    pool: np.ndarray  # indices training texts are drawn from
    test: np.ndarray  # the fixed test texts
    names: "torch.Tensor"  # noqa: F821  [C, D]

    def draw(self, per_class: int, seed: int) -> np.ndarray:
        """``per_class`` pool indices a class, as bench/quality_text.py draws them."""
        return draw(self.labels, self.pool, per_class, seed)


def _features(texts: list[str]) -> np.ndarray:
    """The studio encoder's features of ``texts`` (bench/quality_text.py's embed_all), cached by content."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = DATA.parent / f"debian_text_features-{key}.npy"
    if cache.exists():
        return np.load(cache)
    out = embed_all(texts, ("studio",))["studio"][0]
    np.save(cache, out)
    return out


def load() -> TextSet:
    """The development set (built first when missing), its features and its class names' features."""
    import torch

    from tlcore.data.texts import read_table
    from tlcore.training.text_recipe import name_features

    if not DATA.exists():
        build_data([])
    data = read_table(str(DATA), "text", "label")
    labels = np.array([data.classes.index(i.label) for i in data.items])
    split = np.array([i.split for i in data.items])
    encoder, tokenizer = _encoder()
    with torch.inference_mode():
        names = name_features(encoder, tokenizer, data.classes)
    return TextSet(_features([i.text for i in data.items]), labels, list(data.classes),
                   np.flatnonzero(split == "train"), np.flatnonzero(split == "test"), names)


def held_out_logits(features: np.ndarray, labels: np.ndarray, names, classes: int) -> np.ndarray:
    """Out-of-fold logits [N, C] as a default frozen text run makes them (5 folds, the run's seed)."""
    import torch

    from tlcore.config import TrainConfig
    from tlcore.training.estimate import stratified_folds
    from tlcore.training.text_recipe import out_of_fold

    cfg = TrainConfig(data="benchmark")
    folds = stratified_folds(labels, cfg.folds, cfg.seed)
    return out_of_fold(torch.from_numpy(features), torch.as_tensor(labels, dtype=torch.long), names, classes,
                       folds).numpy()


def test_logits(features: np.ndarray, labels: np.ndarray, names, classes: int, test: np.ndarray) -> np.ndarray:
    """Logits [T, C] of the test features from the recipe fitted on all the training texts (the saved head)."""
    import torch

    from tlcore.training.text_recipe import recipe_head

    weight, bias = recipe_head(torch.from_numpy(features), torch.as_tensor(labels, dtype=torch.long), names, classes)
    return (torch.from_numpy(test) @ weight.T + bias).numpy()
