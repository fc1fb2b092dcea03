"""GPU training path (bf16 autocast, channels_last): runs only where CUDA is available."""

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
    rate = run.epochs()[-1].images_per_second
    print(f"\nGPU efficientnet_lite0 224px trainable_stages={stages}: {rate:.0f} training images/s "
          f"({torch.cuda.get_device_name(0)})", file=sys.stderr)
    for features in run.events("features"):  # the frozen path: the backbone runs once per view
        print(f"  features: {features['images'] / features['seconds']:.0f} images/s, "
              f"{features['views']} views per training image", file=sys.stderr)
    assert run.status().state == "finished" and rate > 0
    assert run.record().environment["cuda"]
    assert run.metrics().score.accuracy > 1 / 8


def test_gpu_augmentation_draws_what_the_cpu_draws():
    from tlcore.training.augment import BatchPrep

    images = torch.randint(0, 256, (16, 3, 96, 96), dtype=torch.uint8)
    out = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        out[device] = BatchPrep([0.5] * 3, [0.25] * 3, torch.device(device), "strong", 64)(images, True)
    assert out["cuda"].is_contiguous(memory_format=torch.channels_last)
    assert (out["cuda"].cpu() - out["cpu"]).abs().max() < 1e-3


def test_small_image_sets_stay_on_the_gpu():
    from tlcore.training.devices import place_on_device

    images = torch.zeros(64, 3, 224, 224, dtype=torch.uint8)
    assert place_on_device(images, torch.device("cuda")).is_cuda
    assert place_on_device(images, torch.device("cuda"), share=0).is_pinned()


def test_cached_features_stay_on_the_gpu_and_match_the_cpu_run(fashion512, tmp_path):
    common = ["--data", str(fashion512), "--trainable-stages", "0", "--augment", "none", "--epochs", "5",
              "--image-size", "64", "--seed", "1"]
    assert main(["train", *common, "--out", str(tmp_path / "gpu"), "--device", "cuda"]) == 0
    assert main(["train", *common, "--out", str(tmp_path / "cpu"), "--device", "cpu"]) == 0
    accuracy = [RunDir(tmp_path / d).metrics().score.accuracy for d in ("gpu", "cpu")]
    assert abs(accuracy[0] - accuracy[1]) <= 0.05, accuracy  # bf16 features vs fp32: close, not equal


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
@pytest.mark.parametrize("stages", ["0", "2"])
def test_torchrun_on_two_gpus_uses_nccl_one_gpu_per_process(fashion512, tmp_path, stages):
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / f"ddp{stages}"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "tlcore", "train", "--data", str(fashion512), "--out", str(out), "--device", "cuda",
                           "--trainable-stages", stages, "--epochs", "3", "--batch-size", "64"],
                          cwd=root, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    run = RunDir(out)
    rate = run.epochs()[-1].images_per_second
    print(f"\n2 GPUs (DDP, NCCL) trainable_stages={stages}: {rate:.0f} training images/s", file=sys.stderr)
    assert run.record().config.world_size == 2 and run.metrics().score.accuracy > 1 / 8


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_the_pool_gives_each_gpu_its_own_slot():
    from tlcore.jobs import pool

    assert pool.slots("cuda") == [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    with pool.hold(1, "cuda") as first, pool.hold(1, "cuda") as second:
        assert first != second
