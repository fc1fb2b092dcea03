"""Learning curve: how accuracy grows with the number of training images, per class, so a user
can judge whether more images would help ("how many more do I need?")."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.data.dataset import Dataset, assign_splits, load_source
from tlcore.jobs.train import create_run, execute
from tlcore.studydir import StudyDir
from tlcore.training.text_inputs import for_data, is_text_source, read_split, save_part
from tlcore.workspace import datasets_dir

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def subset(ds: Dataset, fraction: float, seed: int, unit: str = "images") -> Dataset:
    """The same validation images, and ``fraction`` of each class's training images (at least 1); its name
    says the share of training ``unit`` ("images" or "texts") it keeps."""
    rng = random.Random(seed)
    kept = [i for i in ds.items if i.split != "train"]
    for label in ds.classes:
        train = [i for i in ds.items if i.split == "train" and i.label == label]
        rng.shuffle(train)
        kept += train[:max(1, math.ceil(fraction * len(train)))]
    return replace(ds.with_items(kept), name=f"{ds.name} ({fraction:.0%} of training {unit})")


def learning_curve(base: TrainConfig, out: Path, fractions: tuple[float, ...] = FRACTIONS) -> list[dict]:
    """Train ``base`` (with the model its data needs: ``for_data``) on growing shares of the training
    images or texts; the rows of the curve in ``out`` (one per share) hold images per class, accuracy
    and each class's recall on the shared validation set (a validation split, not cross-validation, so
    that every share is scored on the same images)."""
    study = StudyDir(out, "curve")
    base = for_data(base)
    if is_text_source(base.data):
        ds, texts = read_split(base)
    else:
        ds, texts = assign_splits(load_source(base.data, datasets_dir()), base.val_fraction, base.seed), None
    rows: list[dict] = []
    for fraction in fractions:
        part = subset(ds, fraction, base.seed, "images" if texts is None else "texts")
        folder = study.point_path(fraction)
        (folder / "data").mkdir(parents=True, exist_ok=True)
        if texts is None:
            part.save(folder / "data")
        else:
            save_part(part, texts, folder / "data")
        run = create_run(base.with_(data=str(folder / "data"), evaluation="holdout"), folder / "run")
        state = execute(run.path)
        metrics = run.metrics()
        val = metrics.val if metrics else None
        rows.append({"fraction": fraction, "images_per_class": part.counts("train"), "state": state,
                     "accuracy": val.accuracy if val else None,
                     "recall": {c: s["recall"] for c, s in val.per_class.items()} if val else {},
                     "run": str(run.path)})
        study.write_rows(rows)
    return rows


def run_request(request: Path) -> list[dict]:
    """The worker side of a curve started in the workspace (studies.start_curve): its request, in its folder."""
    study = StudyDir(request.parent, "curve")
    return learning_curve(study.config(), study.path)
