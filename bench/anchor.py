"""The anchor recipe of the quality benchmark, as a practitioner's script would run it: logistic
regression (scikit-learn, default settings) on frozen EfficientNet-Lite0 final features computed
by ONNX Runtime, from decoding the files to the test score.

    python bench/anchor.py TRAIN_FOLDER TEST_FOLDER    # prints {"accuracy": ...}

It runs as its own process, so its time (bench/quality.py measures it from start to finish)
counts the same start-up as the studio's command line does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tlcore.data.images import decode_many  # noqa: E402
from tlcore.models.catalog import get_spec  # noqa: E402
from tlcore.models.net import build_backbone  # noqa: E402
from tlcore.training.augment import BatchPrep  # noqa: E402
from tlcore.training.embed import OnnxRunner  # noqa: E402


def main(train: Path, test: Path) -> float:
    spec = get_spec("efficientnet_lite0")
    backbone, _ = build_backbone(spec)
    prep = BatchPrep(spec.mean, spec.std, torch.device("cpu"))
    runner = None

    def features(folder: Path):
        nonlocal runner
        files = sorted(folder.rglob("*.png"))
        images, failed = decode_many([str(f) for f in files], spec.image_size)
        assert not failed, failed
        runner = runner or OnnxRunner(backbone, prep(images[:2]))
        x = np.concatenate([runner.run(prep(images[i:i + 32])) for i in range(0, len(images), 32)])
        return x, [f.parent.name for f in files]

    x, y = features(train)
    tx, ty = features(test)
    return float(LogisticRegression(max_iter=5000).fit(x, y).score(tx, ty))


if __name__ == "__main__":
    print(json.dumps({"accuracy": main(Path(sys.argv[1]), Path(sys.argv[2]))}))
