"""Several linear heads trained side by side, averaged into one (a "soup" of heads).

With few images, one linear head lands a point or two above or below its average depending on
its random start; K heads trained together on the same features, each from its own start, and
averaged, remove most of that luck. For a linear head the average of the weights gives exactly
the average of the K heads' scores, so the result is one ordinary head.

The heads use no dropout: averaging already regularises (measured on Fashion-MNIST, 20 images
per class: the same accuracy with and without), and on a CPU dropout's random numbers cost more
than the rest of a head's training step.
"""

from __future__ import annotations

import torch
from torch import nn

HEADS = 5


class HeadSoup(nn.Module):
    """K linear heads; training output is [B, C, K], evaluation output is the averaged head's [B, C]."""

    def __init__(self, head: nn.Sequential, k: int = HEADS) -> None:
        super().__init__()
        linear = head[-1]
        fresh = [nn.Linear(linear.in_features, linear.out_features) for _ in range(k - 1)]
        self.weight = nn.Parameter(torch.stack([linear.weight.detach()] + [f.weight.detach() for f in fresh]))
        self.bias = nn.Parameter(torch.stack([linear.bias.detach()] + [f.bias.detach() for f in fresh]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x @ self.weight.mean(0).T + self.bias.mean(0)
        return torch.einsum("bd,kcd->bck", x, self.weight) + self.bias.T

    def param_groups(self, lr: float, weight_decay: float) -> list[dict]:
        return head_groups(self.weight, self.bias, lr, weight_decay)

    def collapse_into(self, head: nn.Sequential) -> None:
        """Write the averaged head into ``head[-1]``."""
        with torch.no_grad():
            head[-1].weight.copy_(self.weight.mean(0))
            head[-1].bias.copy_(self.bias.mean(0))


def head_groups(weight: nn.Parameter, bias: nn.Parameter, lr: float, weight_decay: float) -> list[dict]:
    """Optimiser groups of stacked linear heads: weight decay on the weights, none on the biases."""
    return [{"params": [weight], "lr": lr, "weight_decay": weight_decay, "name": "head"},
            {"params": [bias], "lr": lr, "weight_decay": 0.0, "name": "head (no decay)"}]


class EachHeadLoss(nn.Module):
    """A classification loss applied to every head of a [B, C, K] output (and to [B, C] as is)."""

    def __init__(self, loss: nn.CrossEntropyLoss) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.ndim == 3:
            target = target[:, None].expand(-1, logits.shape[2])
        return self.loss(logits, target)
