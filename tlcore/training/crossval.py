"""Cross-validation of the head on cached features: every labelled image gets a prediction from a
model that never saw it, after every epoch. It estimates the score of the final model, which then
trains on all images instead of giving a fifth of them up to a validation split.

The k folds' heads train side by side as one batched module: each batch is drawn from all the
images, and each fold's loss leaves out the images it holds out, so k soups cost about one
(milliseconds per epoch) instead of k loops of small steps."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from tlcore.config import TrainConfig, seed_within
from tlcore.models.soup import HEADS, head_groups
from tlcore.training.estimate import stratified_folds
from tlcore.training.loop import pick_views, recipe


class FoldHeads(nn.Module):
    """k soups of linear heads (tlcore.models.soup.HeadSoup), one per fold: training output is
    [B, k, heads, C]; ``fold_logits`` gives each fold's averaged head's logits [k, N, C]."""

    def __init__(self, folds: int, features: int, classes: int) -> None:
        super().__init__()
        fresh = [nn.Linear(features, classes) for _ in range(folds * HEADS)]
        self.weight = nn.Parameter(torch.stack([f.weight.detach() for f in fresh]).unflatten(0, (folds, HEADS)))
        self.bias = nn.Parameter(torch.stack([f.bias.detach() for f in fresh]).unflatten(0, (folds, HEADS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bd,fkcd->bfkc", x, self.weight) + self.bias

    def param_groups(self, lr: float, weight_decay: float) -> list[dict]:
        return head_groups(self.weight, self.bias, lr, weight_decay)

    @torch.no_grad()
    def fold_logits(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nd,fcd->fnc", x, self.weight.mean(1)) + self.bias.mean(1)[:, None]


def _loss(logits: torch.Tensor, target: torch.Tensor, trains: torch.Tensor,
          criterion: nn.CrossEntropyLoss) -> torch.Tensor:
    """Each fold's ``criterion`` (the run's class-weighted, smoothed cross-entropy) over the batch
    images it trains on, averaged over its heads (as tlcore.models.soup.EachHeadLoss), summed over
    the folds."""
    b, k, heads, c = logits.shape
    weight = criterion.weight
    each = F.cross_entropy(logits.reshape(-1, c), target.repeat_interleave(k * heads), weight=weight,
                           label_smoothing=criterion.label_smoothing, reduction="none").view(b, k, heads)
    w = (weight[target] if weight is not None else torch.ones_like(target, dtype=logits.dtype))[:, None] * trains
    return ((each.mean(2) * trains).sum(0) / (w.sum(0).clamp(min=1e-12))).sum()


def out_of_fold_logits(x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: TrainConfig,
                       device: torch.device, on_epoch: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] = lambda: False) -> torch.Tensor | None:
    """Logits [epochs, N, C] of every image after every epoch, each from the fold model that did
    not train on it. ``x`` holds features [N, D] or augmented views' features [V, N, D]; the
    plain features (view 0) are the ones scored. The folds train with the final model's recipe
    (tlcore.training.loop.recipe: its optimiser, schedule and loss).
    None when a stop was requested."""
    plain = (x if x.ndim == 2 else x[0]).to(device)
    n = len(y)
    folds = stratified_folds(y.numpy(), cfg.folds, cfg.seed)
    fold_of = torch.empty(n, dtype=torch.long)
    for f, held in enumerate(folds):
        fold_of[torch.as_tensor(held, dtype=torch.long)] = f
    trains = (fold_of[:, None] != torch.arange(len(folds))[None]).float().to(device)  # [N, k]
    seed = seed_within(cfg.seed * 1000 + 1)  # the folds' own random draws, apart from the run's
    with torch.random.fork_rng(devices=[]):  # the run's own random state stays untouched
        torch.manual_seed(seed)
        heads = FoldHeads(len(folds), plain.shape[1], num_classes).to(device)
    optimizer, scheduler, loss_fn = recipe(heads.param_groups(cfg.lr, cfg.weight_decay), cfg, y, n, num_classes,
                                           device)
    labels, generator = y.to(device), torch.Generator().manual_seed(seed)
    out = torch.empty(cfg.epochs, n, num_classes)
    pick = fold_of.to(device)
    for epoch in range(cfg.epochs):
        if on_epoch:
            on_epoch(epoch + 1, cfg.epochs)
        inputs = pick_views(x, generator).to(device)
        heads.train()
        for idx in torch.randperm(n, generator=generator).to(device).split(cfg.batch_size):
            loss = _loss(heads(inputs[idx]), labels[idx], trains[idx], loss_fn.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if should_stop():
                return None
        out[epoch] = heads.fold_logits(plain)[pick, torch.arange(n, device=device)].float().cpu()
    return out
