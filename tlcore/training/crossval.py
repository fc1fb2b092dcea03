"""Cross-validation of the head on cached features: every labelled image gets a prediction from a
model that never saw it, after every epoch, at the cost of training a linear head k more times
(milliseconds per epoch). It estimates the score of the final model, which then trains on all
images instead of giving a fifth of them up to a validation split."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tlcore.config import TrainConfig
from tlcore.training.estimate import stratified_folds
from tlcore.training.loop import identity_prep, pick_views, predict_logits, recipe, train_one_epoch
from tlcore.models.soup import HeadSoup


def _fold_head(features: int, classes: int, seed: int, device: torch.device) -> HeadSoup:
    """A fresh soup of heads from its own seed, leaving the run's random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HeadSoup(nn.Sequential(nn.Linear(features, classes))).to(device)


def out_of_fold_logits(x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: TrainConfig,
                       device: torch.device, on_fold: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] = lambda: False) -> torch.Tensor | None:
    """Logits [epochs, N, C] of every image after every epoch, each from the fold model that did
    not train on it. ``x`` holds features [N, D] or augmented views' features [V, N, D]; the
    plain features (view 0) are the ones scored. None when a stop was requested."""
    plain = x if x.ndim == 2 else x[0]
    out = torch.empty(cfg.epochs, len(y), num_classes)
    folds = stratified_folds(y.numpy(), cfg.folds, cfg.seed)
    prep = identity_prep(device)
    for f, held in enumerate(folds):
        if on_fold:
            on_fold(f + 1, len(folds))
        held = torch.as_tensor(held, dtype=torch.long)
        keep = torch.ones(len(y), dtype=torch.bool)
        keep[held] = False
        train_idx = keep.nonzero().squeeze(1)
        x_fold = x[:, train_idx] if x.ndim == 3 else x[train_idx]
        soup = _fold_head(plain.shape[1], num_classes, cfg.seed * 1000 + f + 1, device)
        optimizer, scheduler, loss_fn = recipe(soup.param_groups(cfg.lr, cfg.weight_decay), cfg, y[train_idx],
                                               len(train_idx), num_classes, device)
        generator = torch.Generator().manual_seed(cfg.seed * 1000 + f + 1)
        x_held = plain[held.to(plain.device)]
        for epoch in range(cfg.epochs):
            res = train_one_epoch(soup, pick_views(x_fold, generator), y[train_idx], prep, loss_fn, optimizer,
                                  scheduler, cfg.batch_size, generator, device, should_stop)
            if res.stopped:
                return None
            out[epoch, held] = predict_logits(soup, x_held, prep, cfg.batch_size, device)
    return out
