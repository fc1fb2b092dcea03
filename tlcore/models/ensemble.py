"""The "most accurate" frozen recipe: several bundled backbones in one module, each read at one or
more depths, every feature L2-normalised, optionally averaged over the image and its mirror image
(``MEMBERS`` and ``FLIP`` say what the recipe uses).

On small datasets a linear head on these features beats one on a single network's final features
by several points (bench/quality.py measures it); the module is an ordinary backbone (images ->
features), so the fast path, the bundle, prediction, Grad-CAM and the ONNX export take it as they
take one network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tlcore.models.catalog import ModelSpec, get_spec

ENSEMBLE = "ensemble"  # the bundle's "model" name for this recipe's network


@dataclass(frozen=True)
class Member:
    """One backbone of the ensemble and the depths it is read at: the indices of the blocks
    whose outputs are pooled (-1: the network's final features, after its last convolution)."""

    model: str
    taps: tuple[int, ...] = (-1,)

    def to_json(self) -> dict:
        return {"model": self.model, "taps": list(self.taps)}


def stage_ends(spec: ModelSpec) -> list[int]:
    """The last block index of each stage of an EfficientNet-Lite (its "_blocks.N" prefixes)."""
    ends = []
    for stage in spec.stages:
        blocks = [int(p.split(".")[1]) for p in stage.prefixes if p.startswith("_blocks.")]
        ends.append(max(blocks))
    return ends


class _Tapped(nn.Module):
    """An EfficientNet-Lite backbone that returns its globally pooled outputs at some depths."""

    def __init__(self, net: nn.Module, taps: tuple[int, ...]) -> None:
        super().__init__()
        self.net, self.taps = net, taps

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m, out = self.net, []
        x = m._swish(m._bn0(m._conv_stem(x)))
        for i, block in enumerate(m._blocks):
            x = block(x)
            if i in self.taps:
                out.append(x.mean((2, 3)))
        x = m._swish(m._bn1(m._conv_head(x)))
        if -1 in self.taps:
            out.append(x.mean((2, 3)))
        return out


class EnsembleBackbone(nn.Module):
    """Images -> the members' features at their depths, each L2-normalised, concatenated, and
    (with ``flip``) averaged with those of the left-right mirrored image."""

    def __init__(self, members: list[tuple[Member, nn.Module]], flip: bool = True) -> None:
        super().__init__()
        self.members = tuple(m for m, _ in members)
        self.nets = nn.ModuleList(_Tapped(net, m.taps) for m, net in members)
        self.flip = flip
        self.feature_dim = sum(feature_dims(m) for m in self.members)

    @property
    def description(self) -> dict:
        return describe(self.members, self.flip)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.normalize(f, dim=1) for net in self.nets for f in net(x)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.flip:
            return self._features(x)
        # The image and its mirror pass as one batch: one copy of each member in an exported graph.
        both = self._features(torch.cat([x, x.flip(3)]))
        return both.unflatten(0, (2, -1)).mean(0)  # a reshape keeps the batch size free in the export


def feature_dims(member: Member) -> int:
    """The width of one member's features: the channels of each tapped block, and of the head."""
    from tlcore.models.net import skeleton_backbone

    net = skeleton_backbone(get_spec(member.model))
    widths = {i: b._project_conv.out_channels for i, b in enumerate(net._blocks)}
    widths[-1] = net._conv_head.out_channels
    return sum(widths[t] for t in member.taps)


# Chosen by measurement (bench/README.md "Learning quality"): on the benchmark's clip art (15 a
# class, 5 draws) logistic regression on the three networks' final features scored 73.1% against
# 71.0% with their last three depths and the mirror image, and 68.8% for Lite0 alone; through the
# engine (2 draws) 67.2% against 65.6%, at half the computing.
MEMBERS = (Member("efficientnet_lite0"), Member("efficientnet_lite1"), Member("efficientnet_lite2"))
FLIP = False
CAM_MEMBER = 2  # Grad-CAM looks into Lite2, the strongest member alone (ImageNet and probes)


def describe(members: tuple[Member, ...] = MEMBERS, flip: bool = FLIP) -> dict:
    """What a bundle records to rebuild the ensemble."""
    return {"members": [m.to_json() for m in members], "flip": flip, "cam_member": CAM_MEMBER}


def ready(members: tuple[Member, ...] = MEMBERS) -> bool:
    """Whether every member's pretrained weights are on this machine."""
    from tlcore.models.net import availability

    return all(availability(get_spec(m.model)) == "bundled" for m in members)


def build_ensemble(image_size: int, weights: str = "pretrained", description: dict | None = None) -> EnsembleBackbone:
    """The ensemble backbone for ``image_size`` images (each member's "same" padding is set for that
    size): pretrained (for training) or empty (``weights="none"``, for loading a bundle's weights
    into), as ``description`` (from ``describe``) says."""
    from tlcore.models.net import build_backbone

    d = description or describe()
    members = [Member(m["model"], tuple(m["taps"])) for m in d["members"]]
    nets = [(m, build_backbone(get_spec(m.model), weights, image_size)[0]) for m in members]
    return EnsembleBackbone(nets, flip=d["flip"]).requires_grad_(False)


def cam_layer(description: dict) -> str:
    """The backbone submodule Grad-CAM looks at: the last convolution block of the CAM member."""
    member = description["cam_member"]
    return f"nets.{member}.net.{get_spec(description['members'][member]['model']).cam_layer}"


def with_ensemble(inputs, device: torch.device):
    """``inputs`` (tlcore.training.inputs.Inputs) with the pretrained ensemble and a new head as its network."""
    from dataclasses import replace

    from tlcore.models.net import Net

    backbone = build_ensemble(inputs.image_size)
    return replace(inputs, net=Net(backbone, backbone.feature_dim, len(inputs.classes)).to(device))


def recipe_costs(model: str) -> dict[str, dict]:
    """What the Strategy page shows for "fastest model" vs "most accurate model": a title and the
    computing per image (GFLOPs at the networks' own sizes, the mirror image included when used)."""
    from tlcore.config import FASTEST, MOST_ACCURATE

    spec = get_spec(model)
    ensemble = (2 if FLIP else 1) * sum(get_spec(m.model).gflops for m in MEMBERS)
    return {
        FASTEST: {"title": f"Fastest model: {spec.title} alone", "gflops": spec.gflops, "relative_cost": 1.0},
        MOST_ACCURATE: {"title": "Most accurate model: EfficientNet-Lite0, Lite1 and Lite2 together, frozen",
                        "gflops": round(ensemble, 2), "relative_cost": round(ensemble / spec.gflops, 1)},
    }
