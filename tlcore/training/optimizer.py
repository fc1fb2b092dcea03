"""The optimiser and learning-rate schedule of every training: AdamW, linear warm-up then cosine.

On a processor the update is this module's ``AdamW``: PyTorch's fused AdamW kernel, the one
``torch.optim.AdamW(fused=True)`` calls (one pass over each group; the head's update costs 0.1 ms
instead of 0.6 ms one operation at a time, a third of a cross-validation step), without
``torch.optim``'s first use importing PyTorch's compiler (``torch._dynamo``: 1.2 s on a 2-core
machine, an eighth of a frozen-network run). On a graphics card it is ``torch.optim.AdamW`` with
its fused kernel. Both keep their state in the same form, so a checkpoint written by one resumes
in the other.
"""

from __future__ import annotations

import math

import torch

# torch.optim.AdamW's defaults; "fused" is saved with the groups, so that torch.optim resuming from
# this module's checkpoint keeps the fused update (a group without it falls back to the unfused one).
DEFAULTS = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "fused": True}


class AdamW:
    """Decoupled weight decay Adam (Loshchilov & Hutter) over parameter groups, as
    ``torch.optim.AdamW(groups, fused=True)`` with its defaults: ``param_groups``, ``zero_grad``,
    ``step``, ``state_dict`` and ``load_state_dict`` in the same form."""

    def __init__(self, groups: list[dict]) -> None:
        self.param_groups = [{**DEFAULTS, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._state(p) for p in params]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            beta1, beta2 = group["betas"]
            torch._fused_adamw_(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                                [s["exp_avg_sq"] for s in states], [], steps, lr=group["lr"], beta1=beta1,
                                beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False,
                                maximize=False)

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                     "exp_avg_sq": torch.zeros_like(p)}
        return state

    def state_dict(self) -> dict:
        index = {p: i for i, p in enumerate(self._params())}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[p] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": {index[p]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, saved: dict) -> None:
        params = self._params()
        for group, old in zip(self.param_groups, saved["param_groups"]):
            group.update({k: v for k, v in old.items() if k != "params"})
        self.state = {params[i]: {"step": s["step"].float().cpu(), "exp_avg": s["exp_avg"].to(params[i]),
                                  "exp_avg_sq": s["exp_avg_sq"].to(params[i])}
                      for i, s in saved["state"].items()}


def adamw(groups: list[dict], device: torch.device):
    """The optimiser for ``groups`` on ``device``: fused ``torch.optim.AdamW`` on a graphics card
    (one kernel per step), this module's ``AdamW`` elsewhere."""
    if device.type == "cuda":
        return torch.optim.AdamW(groups, fused=True)
    return AdamW(groups)


class WarmupCosine:
    """Linear warm-up to each group's base learning rate, then cosine decay to zero, stepped per
    batch; its state (``last_epoch``, the steps taken, and ``base_lrs``) reads as
    ``torch.optim.lr_scheduler.LambdaLR``'s does."""

    def __init__(self, optimizer, warmup_steps: int, total_steps: int) -> None:
        self.optimizer, self.warmup_steps, self.total_steps = optimizer, warmup_steps, total_steps
        self.base_lrs = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.factor(self.last_epoch)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, saved: dict) -> None:
        self.last_epoch, self.base_lrs = saved["last_epoch"], list(saved["base_lrs"])
        self._apply()
