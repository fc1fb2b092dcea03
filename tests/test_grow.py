"""Growing a trained model: new classes are added without forgetting the old ones."""

import json
import sys

import numpy as np
import pytest

from datasets import FASHION_CLASSES, FASHION_DIR, fashion_mnist, pick_per_class, write_class_folders
from tlcore.cli import main

pytestmark = pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
OLD, NEW = [0, 1, 5, 8], [7, 9]  # t-shirt, trouser, sandal, bag; then sneaker, ankle-boot


@pytest.mark.slow
def test_init_from_grows_four_classes_to_six_and_keeps_the_old_ones(tmp_path):
    x, y = fashion_mnist("train")
    picks = pick_per_class(y, 40, OLD + NEW, seed=3)
    old_idx = picks[np.isin(y[picks], OLD)]
    write_class_folders(tmp_path / "four", x, y, FASHION_CLASSES, old_idx)
    write_class_folders(tmp_path / "six", x, y, FASHION_CLASSES, picks)
    common = ["--trainable-stages", "0", "--augment", "none", "--epochs", "30", "--image-size", "96", "--device", "cpu"]
    assert main(["train", "--data", str(tmp_path / "four"), "--out", str(tmp_path / "r4"), *common]) == 0
    assert main(["train", "--data", str(tmp_path / "six"), "--init-from", str(tmp_path / "r4"),
                 "--out", str(tmp_path / "r6"), *common]) == 0
    growth = json.loads((tmp_path / "r6" / "metrics.json").read_text())["growth"]
    print(growth, file=sys.stderr)
    assert growth["old_classes"] == ["bag", "sandal", "t-shirt", "trouser"]
    assert growth["new_classes"] == ["ankle-boot", "sneaker"] and growth["removed_classes"] == []
    assert growth["old_accuracy_after"] >= growth["old_accuracy_before"] - 0.05
    assert growth["new_accuracy"] >= 0.5  # chance among six classes is 0.17
    assert json.loads((tmp_path / "r6" / "config.json").read_text())["parent"] == str(tmp_path / "r4")
    bundle = json.loads((tmp_path / "r6" / "bundle" / "model.json").read_text())
    assert len(bundle["classes"]) == 6
