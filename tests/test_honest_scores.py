"""Honest small-data scores on real data (Fashion-MNIST, Debian's dataset-fashion-mnist).

Cross-validation's interval must hold the score the model then gets on images it never saw, and
training the final model on every labelled image must not score worse than giving a fifth of them
up to a validation split; temperature scaling must lower the calibration error on unseen images;
and cleanlab, fed out-of-fold predictions, must find labels flipped on purpose.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from datasets import FASHION_CLASSES, FASHION_DIR, fashion_mnist, pick_per_class, write_class_folders
from tlcore.config import TrainConfig
from tlcore.rundir import RunDir
from tlcore.jobs.train import create_run, execute

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")]
DRAWS = (0, 1, 2, 3, 4)
RECIPE = dict(trainable_stages=0, augment="none", epochs=40, image_size=96, device="cpu")


@pytest.fixture(scope="module")
def fifteen_per_class(tmp_path_factory):
    """Five draws of 15 images for each of the 10 classes, and 500 test images (50 a class)."""
    root = tmp_path_factory.mktemp("fashion15")
    x, y = fashion_mnist("train")
    tx, ty = fashion_mnist("test")
    write_class_folders(root / "test", tx, ty, FASHION_CLASSES, pick_per_class(ty, 50, list(range(10)), seed=100))
    for draw in DRAWS:
        write_class_folders(root / f"draw{draw}", x, y, FASHION_CLASSES,
                            pick_per_class(y, 15, list(range(10)), seed=draw))
    return root


def _train(data: Path, test: Path, out: Path, **settings) -> dict:
    cfg = TrainConfig(data=str(data), test_data=str(test), **RECIPE, **settings)
    assert execute(create_run(cfg, out).path) == "finished"
    return json.loads(RunDir(out).metrics_path.read_text())


def test_cross_validation_estimate_holds_and_training_on_every_image_pays(fifteen_per_class, tmp_path):
    rows = []
    for draw in DRAWS:
        data, test = fifteen_per_class / f"draw{draw}", fifteen_per_class / "test"
        cv = _train(data, test, tmp_path / f"cv{draw}", evaluation="auto", seed=draw)
        split = _train(data, test, tmp_path / f"split{draw}", evaluation="holdout", seed=draw)
        estimate = cv["estimate"]
        assert estimate["method"] == "5-fold cross-validation" and estimate["images"] == 150  # chosen by "auto"
        assert split["estimate"]["method"] == "validation split" and split["estimate"]["images"] == 30
        rows.append({"low": estimate["low"], "high": estimate["high"], "estimate": estimate["accuracy"],
                     "cv_test": cv["test"]["accuracy"], "split_test": split["test"]["accuracy"],
                     "ece_before": cv["calibration"]["test_ece_before"],
                     "ece_after": cv["calibration"]["test_ece_after"]})
    print("\n" + "\n".join(json.dumps({k: round(v, 4) for k, v in r.items()}) for r in rows))
    inside = sum(r["low"] <= r["cv_test"] <= r["high"] for r in rows)
    assert inside >= 4, rows
    assert np.mean([r["cv_test"] for r in rows]) >= np.mean([r["split_test"] for r in rows]), rows
    assert np.mean([r["ece_after"] for r in rows]) < np.mean([r["ece_before"] for r in rows]), rows


def test_labels_flipped_on_purpose_are_found(tmp_path):
    """240 images of 6 classes; 12 (5%) moved into a wrong class folder."""
    x, y = fashion_mnist("train")
    classes = [0, 1, 5, 7, 8, 9]  # t-shirt, trouser, sandal, sneaker, bag, ankle boot
    data = write_class_folders(tmp_path / "data", x, y, FASHION_CLASSES, pick_per_class(y, 40, classes, seed=7))
    files = sorted(data.rglob("*.png"))
    rng = np.random.default_rng(7)
    flipped = set()
    for path in rng.choice(files, 12, replace=False):
        wrong = rng.choice([FASHION_CLASSES[c] for c in classes if FASHION_CLASSES[c] != path.parent.name])
        target = data / wrong / path.name
        shutil.move(path, target)
        flipped.add(target.name)
    cfg = TrainConfig(data=str(data), **RECIPE)
    run = create_run(cfg, tmp_path / "run")
    assert execute(run.path) == "finished"
    metrics = run.metrics()
    assert metrics.held_out == "cv"
    listed = {Path(issue["file"]).name for issue in metrics.label_issues}
    found, false = len(listed & flipped), len(listed - flipped)
    print(f"\nflipped found: {found} of {len(flipped)}; correct labels listed: {false} of {len(files) - len(flipped)}")
    assert found >= len(flipped) / 2
    assert false < 0.05 * (len(files) - len(flipped))
