"""GPU training path (bf16 autocast, channels_last): runs only where CUDA is available."""

import json
import sys

import pytest
import torch

from datasets import FASHION_CLASSES, fashion_mnist, pick_per_class, write_class_folders
from tlcore.cli import main
from tlcore.rundir import RunDir

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def fashion512(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashion512")
    x, y = fashion_mnist("train")
    return write_class_folders(root, x, y, FASHION_CLASSES, pick_per_class(y, 64, list(range(8))))


@pytest.mark.parametrize("stages", ["0", "2", "all"])
def test_gpu_training_runs_and_reports_images_per_second(fashion512, tmp_path, stages):
    out = tmp_path / f"run{stages}"
    assert main(["train", "--data", str(fashion512), "--out", str(out), "--device", "cuda",
                 "--trainable-stages", stages, "--augment", "light", "--epochs", "3",
                 "--batch-size", "64", "--image-size", "224"]) == 0
    run = RunDir(out)
    epochs = run.events("epoch")
    rate = epochs[-1]["images_per_second"]
    print(f"\nGPU efficientnet_lite0 224px trainable_stages={stages}: {rate:.0f} training images/s "
          f"({torch.cuda.get_device_name(0)})", file=sys.stderr)
    assert run.status()["state"] == "finished" and rate > 0
    assert json.loads(run.config_path.read_text())["environment"]["cuda"]
    assert json.loads(run.metrics_path.read_text())["val"]["accuracy"] > 1 / 8
