"""The training engine runs with no run folder: a test hands it tensors and a reporter in memory."""

import numpy as np
import torch
import torch.nn.functional as F

from datasets import fashion_mnist, pick_per_class
from tlcore.training.augment import BatchPrep
from tlcore.models.catalog import get_spec
from tlcore.config import TrainConfig
from tlcore.training.engine import train_model
from tlcore.training.inputs import Inputs, Part, load_inputs, split_dataset
from tlcore.models.net import Net, build_backbone
from tlcore.training.report import finish_run
from tlcore.training.reporter import MemoryReporter

SIZE = 64
CLASSES = [0, 1, 5, 8]  # T-shirt, trouser, sandal, bag


def _part(split: str, per_class: int) -> Part:
    x, y = fashion_mnist(split)
    index = pick_per_class(y, per_class, CLASSES)
    images = torch.from_numpy(np.repeat(x[index][:, None], 3, axis=1))  # grey -> RGB, uint8 [N,3,28,28]
    images = F.interpolate(images.float(), size=SIZE, mode="bilinear").round().clamp(0, 255).to(torch.uint8)
    labels = torch.tensor([CLASSES.index(c) for c in y[index]])
    return Part(images, labels, [f"{split}/{i}.png" for i in index])


def _inputs() -> Inputs:
    torch.manual_seed(0)
    spec = get_spec("efficientnet_lite0")
    backbone, _ = build_backbone(spec, "pretrained", SIZE)
    device = torch.device("cpu")
    return Inputs(spec, ["tshirt", "trouser", "sandal", "bag"], SIZE, _part("train", 10), _part("test", 5),
                  _part("test", 8), Net(backbone, spec.feature_dim, 4), None,
                  BatchPrep(spec.mean, spec.std, device, "none", SIZE), given_val=False)


def _cfg(**changes) -> TrainConfig:
    base = dict(data="(in memory)", trainable_stages=0, epochs=6, augment="none", image_size=SIZE, batch_size=16,
                evaluation="holdout", recipe="fastest", device="cpu")
    return TrainConfig(**(base | changes))


def test_the_engine_trains_with_an_in_memory_reporter_and_no_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reporter = MemoryReporter()
    trained = train_model(_inputs(), _cfg(), torch.device("cpu"), reporter)
    assert [e.epoch for e in reporter.epochs] == list(range(1, 7)) and reporter.checkpoints == list(range(1, 7))
    assert trained.held.split == "val" and len(trained.held.y) == 20 and len(trained.test.y) == 32
    accuracy = float((trained.test.logits.argmax(1) == trained.test.y).float().mean())
    assert accuracy >= 0.7, accuracy  # 4 easy Fashion-MNIST classes from 10 images each
    assert "Evaluating and saving the model" in reporter.statuses and "features" in dict(reporter.events)
    assert not list(tmp_path.iterdir())  # nothing written where it ran


def test_a_stop_from_the_reporter_keeps_the_best_epoch_so_far():
    reporter = MemoryReporter(stop_after=2)
    trained = train_model(_inputs(), _cfg(epochs=10), torch.device("cpu"), reporter)
    assert trained.cancelled and trained.epoch in (1, 2) and len(reporter.epochs) == 2
    assert trained.held is not None and trained.test is not None


def test_a_one_stage_fine_tune_runs_in_memory_too():
    reporter = MemoryReporter()
    trained = train_model(_inputs(), _cfg(trainable_stages=1, epochs=1, batch_size=8), torch.device("cpu"), reporter)
    assert trained.stages == 1 and not reporter.epochs[-1].fast_path and trained.epoch == 1


def test_loading_the_images_and_scoring_the_model_need_no_run_folder_either(fashion_small, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(data=str(fashion_small / "train"), test_data=str(fashion_small / "test"), epochs=2)
    device = torch.device("cpu")
    reporter = MemoryReporter()
    ds, given_val = split_dataset(cfg, reporter)
    torch.manual_seed(cfg.seed)
    inputs = load_inputs(ds, given_val, cfg, device, reporter)
    assert len(inputs.train.y) + len(inputs.val.y) == 48 and len(inputs.test.y) == 40 and not given_val
    trained = train_model(inputs, cfg, device, reporter)
    done = finish_run(cfg, inputs, trained.held, trained.test, trained.stages, trained.epoch, ["a warning"], ds, "mine")
    assert reporter.statuses[:2] == ["Checking the images", "Loading the training images"]
    assert next(data["phase"] for kind, data in reporter.events if kind == "progress") == "decode"
    assert done.metrics.kept_epoch == trained.epoch and done.metrics.warnings == ["a warning"]
    assert done.metrics.score.split == "test" and done.metrics.score.images == 40
    assert done.metrics.val.count == len(inputs.val.y)
    assert set(done.predictions) == {"val", "test"}
    assert len(done.predictions["test"].decode().splitlines()) == 41  # a header and a row per test image
    assert done.bundle["run"] == "mine" and done.bundle["epoch"] == trained.epoch
    assert not list(tmp_path.iterdir())  # nothing written where it ran
