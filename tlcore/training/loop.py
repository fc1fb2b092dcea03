"""The training loop's building blocks: one epoch, evaluation, schedule, loss.

Both paths use them: the full path feeds images through the whole network; the frozen-backbone
fast path feeds cached feature vectors through the head alone.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tlcore.config import TrainConfig
from tlcore.training.distributed import SOLO, World
from tlcore.training.optimizer import AdamW, WarmupCosine, adamw
from tlcore.models.soup import EachHeadLoss

Prepare = Callable[[torch.Tensor, bool], torch.Tensor]


def identity_prep(device: torch.device) -> Prepare:
    """Input preparation for cached features: just move them to the device."""
    return lambda x, train=False: x.to(device, non_blocking=True)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; plain fp32 on the CPU (where bf16 is slower on most machines)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (mean 1), so each class counts equally in the loss."""
    counts = torch.bincount(labels, minlength=num_classes).float().clamp(min=1)
    w = counts.sum() / (num_classes * counts)
    return w / w.mean()


def recipe(groups: list[dict], cfg: TrainConfig, y_train: torch.Tensor, train_size: int, num_classes: int,
           device: torch.device):
    """The optimiser, schedule and loss every training of a run uses (the final model and each
    cross-validation fold alike): AdamW, warm-up then cosine per batch, weighted and smoothed loss."""
    optimizer = adamw(groups, device)
    steps = math.ceil(train_size / cfg.batch_size)
    scheduler = WarmupCosine(optimizer, int(cfg.warmup_epochs * steps), cfg.epochs * steps)
    weight = class_weights(y_train, num_classes).to(device) if cfg.class_weighting else None
    loss_fn = EachHeadLoss(nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing))
    return optimizer, scheduler, loss_fn


def pick_views(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An epoch's inputs from augmented views [V, N, ...]: one random view of each image
    (plain inputs [N, ...] are returned as they are)."""
    if x.ndim != 3:
        return x
    n = x.shape[1]
    pick = torch.randint(len(x), (n,), generator=generator).to(x.device)
    return x[pick, torch.arange(n, device=x.device)]


@dataclass
class EpochResult:
    loss: float
    y_true: list[int]
    y_pred: list[int]
    seconds: float
    stopped: bool  # a cancel was requested mid-epoch


def train_one_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, prepare: Prepare,
                    loss_fn: nn.Module, optimizer: AdamW | torch.optim.AdamW, scheduler: WarmupCosine,
                    batch_size: int, generator: torch.Generator, device: torch.device,
                    should_stop: Callable[[], bool] = lambda: False,
                    on_batch: Callable[[int, int], None] | None = None,
                    set_mode: Callable[[], None] | None = None, world: World = SOLO) -> EpochResult:
    """One pass over ``x`` in a seeded random order; stops early (after a whole batch) on cancel.

    On several ranks (``world``), every rank draws the same order and takes its share of each
    batch (``model`` is then DistributedDataParallel, which averages the gradients); the loss and
    predictions returned are those of all ranks. ``should_stop`` must agree across ranks.

    Nothing in the loop waits for the GPU: the order and labels sit where ``x`` is, and losses and
    predictions stay on the device until the epoch ends, so the CPU queues the next step while
    the GPU computes this one."""
    (set_mode or model.train)()
    start = time.perf_counter()
    order = torch.randperm(len(x), generator=generator).to(x.device)
    labels = y.to(x.device)
    losses, targets, preds, seen, stopped = [], [], [], 0, False
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        if len(idx) < 2 * world.size and i > 0:  # a batch of one breaks BatchNorm; its image comes next epoch
            break
        idx = idx[world.part(len(idx))]
        target = labels[idx].to(device, non_blocking=True)
        inputs = prepare(x[idx], True)
        with autocast(device):
            logits = model(inputs)
            loss = loss_fn(logits.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach() * len(idx))
        targets.append(target)
        preds.append((logits.mean(2) if logits.ndim == 3 else logits).argmax(1))  # K heads: [B, C, K]
        seen += len(idx)
        if on_batch:
            on_batch(min(seen * world.size, len(x)), len(x))
        if should_stop():
            stopped = True
            break
    total = world.total(float(torch.stack(losses).sum()) if losses else 0.0)
    y_true = world.gather_list(torch.cat(targets).tolist() if targets else [])
    y_pred = world.gather_list(torch.cat(preds).tolist() if preds else [])
    return EpochResult(total / max(len(y_true), 1), y_true, y_pred, time.perf_counter() - start, stopped)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, prepare: Prepare, batch_size: int,
                   device: torch.device, on_batch: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Model outputs for every row of ``x`` in eval mode, as float32 on the CPU (gathered on the
    device and copied once, so the GPU is not waited for after every batch)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        with autocast(device):
            out.append(model(prepare(x[i:i + batch_size], False)).float())
        if on_batch:
            on_batch(min(i + batch_size, len(x)), len(x))
    return torch.cat(out).cpu() if out else torch.empty(0)


@dataclass
class LoopState:
    """Where the epoch loop is, in JSON-safe fields: saved with every checkpoint, read back on
    resume. The best epoch's weights travel beside it (tensors, not JSON)."""

    epoch: int = 0  # the last epoch completed
    best_loss: float | None = None  # the lowest held-out loss so far (None before the first epoch)
    best_epoch: int = 0
    best_accuracy: float = 0.0
    bad: int = 0  # epochs since the held-out loss last improved
    start_loss: float | None = None  # the first epoch's training loss
    rising: int = 0  # epochs in a row with the training loss above its start

    def improved(self, loss: float) -> bool:
        """Whether a held-out loss beats the best so far (a non-finite one never does)."""
        return math.isfinite(loss) and (self.best_loss is None or loss < self.best_loss)

    def to_json(self) -> dict:
        return dict(vars(self))

    @classmethod
    def from_json(cls, data: dict) -> "LoopState":
        """The state from a checkpoint (older checkpoints kept an infinite best loss for "none")."""
        state = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        if state.best_loss is not None and not math.isfinite(state.best_loss):
            state.best_loss = None
        return state
