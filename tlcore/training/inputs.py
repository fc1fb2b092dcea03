"""Everything a run trains on, loaded once: the split dataset decoded to uint8 tensors, and the
starting network (pretrained, from scratch, a user's weights, or an earlier run's model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from tlcore.training.augment import BatchPrep
from tlcore.models.bundle import load_bundle, read_bundle_meta
from tlcore.models.bundle_paths import run_bundle
from tlcore.models.catalog import ModelSpec, get_spec
from tlcore.config import TrainConfig
from tlcore.data.dataset import Dataset, Item, assign_splits, check_trainable, load_source
from tlcore.errors import TLError
from tlcore.data.images import decode_many
from tlcore.models.net import Net, build_backbone
from tlcore.training.progress import Throttle, report
from tlcore.training.reporter import Reporter
from tlcore.training.text_inputs import is_text_run, load_text_inputs
from tlcore.workspace import datasets_dir


@dataclass
class Part:
    """One split held in memory: images decoded once, their labels and file paths."""

    x: torch.Tensor  # uint8 [N, 3, S, S]
    y: torch.Tensor  # int64 [N]
    files: list[str]

    def class_counts(self, classes: list[str]) -> dict[str, int]:
        counts = torch.bincount(self.y, minlength=len(classes)).tolist()
        return dict(zip(classes, counts))


@dataclass
class Inputs:
    spec: ModelSpec
    classes: list[str]
    image_size: int
    train: Part
    val: Part
    test: Part | None
    net: Net
    imagenet: nn.Module | None  # the pretrained ImageNet classifier, when there is one
    prep: BatchPrep  # evaluation-time preprocessing (no augmentation)
    given_val: bool  # the data came with its own validation folder


def _concat(a: Part, b: Part) -> Part:
    return Part(torch.cat([a.x, b.x]), torch.cat([a.y, b.y]), a.files + b.files)


def use_all_for_training(ds: Dataset, inputs: Inputs) -> tuple[Dataset, Inputs]:
    """Cross-validation: every labelled image trains (and is scored out of fold), none is set
    aside; the dataset ``ds`` the run trains on says so too (returned, to be kept with the run)."""
    if not len(inputs.val.y):
        return ds, inputs
    ds = ds.with_items([replace(i, split="train") if i.split == "val" else i for i in ds.items])
    # In the manifest's order, which is the order a resumed run decodes them in: the folds and
    # every epoch's batches then come out the same after a resume.
    position = {item.path: k for k, item in enumerate(ds.subset("train"))}
    both = _concat(inputs.train, inputs.val)
    order = sorted(range(len(both.files)), key=lambda k: position[both.files[k]])
    empty = Part(inputs.val.x[:0], inputs.val.y[:0], [])
    return ds, replace(inputs, train=Part(both.x[order], both.y[order], [both.files[k] for k in order]), val=empty)


def split_dataset(cfg: TrainConfig, reporter: Reporter) -> tuple[Dataset, bool]:
    """The images of ``cfg.data`` checked and split, and whether they came with their own
    validation images."""
    reporter.status("Checking the images")
    ds = load_source(cfg.data, datasets_dir())
    given_val = any(i.split == "val" for i in ds.items)
    ds = assign_splits(ds, cfg.val_fraction, cfg.seed)
    check_trainable(ds)
    return ds, given_val


def _decode(reporter: Reporter, items: list[Item], classes: list[str], size: int, what: str,
            progress: Callable[[int, int], None]) -> Part:
    reporter.status(f"Loading the {what} images")
    x, failed = decode_many([it.path for it in items], size, progress=progress)
    unreadable = set(failed)
    kept = [it for i, it in enumerate(items) if i not in unreadable]
    if failed:
        reporter.event("warning", message=f"{len(failed)} {what} image(s) could not be read any more "
                                          "and were left out.")
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[it.label] for it in kept], dtype=torch.long)
    return Part(x, y, [it.path for it in kept])


def _test_items(cfg: TrainConfig, ds: Dataset) -> list[Item]:
    """Every held-out test image: the dataset's own test folder and the ``test_data`` set."""
    items = ds.subset("test")
    if cfg.test_data:
        test = load_source(cfg.test_data, datasets_dir())
        unknown = sorted(set(test.classes) - set(ds.classes))
        if unknown:
            raise TLError(f"The test images have classes the model is not trained on: {', '.join(unknown)}. "
                          "Use the same class folder names as in the training data.")
        if not test.items:
            raise TLError(f"No usable test images were found in {Path(cfg.test_data).name}.")
        items += test.items
    return items


def image_size_for(cfg: TrainConfig, device_type: str) -> int:
    """The size a run of ``cfg`` reads its images at on a ``device_type`` ("cpu", "cuda"): the size
    set, else the size of the earlier run it continues, else the model's own there (a processor
    size for some). The worker decides with it, and the Train page shows what it decides."""
    if cfg.image_size:
        return cfg.image_size
    if cfg.init_from:
        return read_bundle_meta(run_bundle(cfg.init_from).folder)["image_size"]
    return get_spec(cfg.model).size_on(device_type)


def load_inputs(ds: Dataset, given_val: bool, cfg: TrainConfig, device: torch.device, reporter: Reporter,
                planned: Callable[[Dataset, ModelSpec, int, int, bool], None] | None = None,
                texts: dict[str, str] | None = None) -> Inputs:
    """Load the examples of the split dataset ``ds`` (``split_dataset``; a text run's also needs their
    ``texts``, by item path) and the starting network for ``cfg``. ``planned(dataset, spec, image size,
    test images, given validation)`` is told what will be loaded before the images are read."""
    if is_text_run(cfg):  # token ids instead of images: tlcore.training.text_inputs
        t = load_text_inputs(ds, texts or {}, given_val, cfg, device, reporter, planned, _from_run)
        parts = [Part(*p) if p else None for p in t.parts]
        return Inputs(t.spec, t.classes, t.size, *parts, t.net, None, t.prep, t.given_val)
    parent = read_bundle_meta(run_bundle(cfg.init_from).folder) if cfg.init_from else None
    spec = get_spec(parent["model"] if parent else cfg.model)
    size = image_size_for(cfg, device.type)
    if spec.fixed_size and size != spec.image_size:
        raise TLError(f"{spec.title} only works at {spec.image_size} pixels; set the image size to "
                      f"{spec.image_size} or 0.")
    classes, train_items, val_items, test_items = ds.classes, ds.subset("train"), ds.subset("val"), _test_items(cfg, ds)
    if planned:
        planned(ds, spec, size, len(test_items), given_val)
    # The three passes are one step of the run's progress: reading its images.
    decoding, total = Throttle(reporter.event, "decode"), len(train_items) + len(val_items) + len(test_items)
    train = _decode(reporter, train_items, classes, size, "training", decoding.part(0, total))
    val = _decode(reporter, val_items, classes, size, "validation", decoding.part(len(train_items), total))
    test = (_decode(reporter, test_items, classes, size, "test",
                    decoding.part(len(train_items) + len(val_items), total)) if test_items else None)
    reporter.status("Loading the pretrained model")
    report(reporter.event, "load", 0, 1)
    if parent:
        net, imagenet = _from_run(Path(cfg.init_from), classes), None
    else:
        backbone, imagenet = build_backbone(spec, cfg.weights, size)
        net = Net(backbone, spec.feature_dim, len(classes))
    report(reporter.event, "load", 1, 1)
    prep = BatchPrep(spec.mean, spec.std, device, "none", size)
    return Inputs(spec, classes, size, train, val, test, net.to(device), imagenet, prep, given_val)


def _from_run(folder: Path, classes: list[str]) -> Net:
    """An earlier run's network with a head for ``classes``: rows of classes it already knew
    are kept, new classes start fresh, classes no longer present are dropped."""
    old, meta = load_bundle(run_bundle(folder).folder)
    width = getattr(old.backbone, "feature_dim", get_spec(meta["model"]).feature_dim)  # an ensemble has its own
    net = Net(old.backbone, width, len(classes), norm=old.normalised)
    old_linear, new_linear = old.head[-1], net.head[-1]
    with torch.no_grad():
        for i, c in enumerate(classes):
            if c in meta["classes"]:
                j = meta["classes"].index(c)
                new_linear.weight[i] = old_linear.weight[j]
                new_linear.bias[i] = old_linear.bias[j]
    return net
