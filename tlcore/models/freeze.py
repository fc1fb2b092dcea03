"""Freezing: "train the last N stages" as one integer, and the optimiser's parameter groups."""

from __future__ import annotations

from torch import nn

from tlcore.models.catalog import ModelSpec
from tlcore.errors import TLError
from tlcore.models.net import Net

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def resolve_trainable(value: int | str, num_stages: int) -> int:
    """Turn "all" or a number into a stage count between 0 and ``num_stages``."""
    if value == "all":
        return num_stages
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise TLError(f"'Stages to train' must be a number from 0 to {num_stages} or 'all', "
                      f"not '{value}'.") from None
    if not 0 <= n <= num_stages:
        raise TLError(f"This model has {num_stages} stages, so 'stages to train' must be "
                      f"between 0 and {num_stages}; {n} was asked for.")
    return n


def first_trainable(spec: ModelSpec, trainable_stages: int) -> int:
    """Index of the first stage that trains; stages before it are frozen."""
    return len(spec.stages) - trainable_stages


def _is_frozen(spec: ModelSpec, name: str, trainable_stages: int) -> bool:
    stage = spec.stage_of(name)
    return stage is not None and stage < first_trainable(spec, trainable_stages)


def apply_freeze(net: Net, spec: ModelSpec, trainable_stages: int, train_bn: bool) -> None:
    """Set ``requires_grad`` on every parameter: the head and the last N stages train.

    With ``train_bn`` the BatchNorm layers of frozen stages keep learning their scale and
    shift (fastai found this helps transfer); otherwise frozen stages are fully fixed.
    """
    for p in net.head.parameters():
        p.requires_grad_(True)
    for mname, module in net.backbone.named_modules():
        frozen = _is_frozen(spec, mname, trainable_stages)
        bn_learns = train_bn and isinstance(module, _BN)
        for p in module.parameters(recurse=False):
            p.requires_grad_(not frozen or bn_learns)


def set_train_mode(net: Net, spec: ModelSpec, trainable_stages: int, train_bn: bool) -> None:
    """``net.train()``, except frozen stages stay in eval mode (fixed BatchNorm statistics and
    no dropout), with their BatchNorm layers in train mode when ``train_bn``."""
    net.train()
    for mname, module in net.backbone.named_modules():
        if not mname or not _is_frozen(spec, mname, trainable_stages):
            continue
        module.train(train_bn and isinstance(module, _BN))


def backbone_is_frozen(spec: ModelSpec, trainable_stages: int, train_bn: bool) -> bool:
    """True when nothing in the backbone learns, so its features can be computed once."""
    return trainable_stages == 0 and not train_bn


def param_groups(net: Net, lr: float, backbone_lr_mult: float, weight_decay: float) -> list[dict]:
    """AdamW groups: the new head at ``lr``, pretrained layers at ``lr * backbone_lr_mult``;
    no weight decay on biases and normalisation weights (1-d tensors)."""
    groups: dict[tuple[str, bool], list] = {}
    for part, module in (("head", net.head), ("backbone", net.backbone)):
        for p in module.parameters():
            if p.requires_grad:
                groups.setdefault((part, p.ndim > 1), []).append(p)
    out = []
    for (part, decays), params in groups.items():
        group_lr = lr if part == "head" else lr * backbone_lr_mult
        out.append({"params": params, "lr": group_lr, "weight_decay": weight_decay if decays else 0.0,
                    "name": f"{part}{'' if decays else ' (no decay)'}"})
    return out
