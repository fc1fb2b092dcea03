"""The processor's AdamW and schedule against torch.optim's (its fused kernel): the same numbers,
step for step, and checkpoints that pass between them."""

import math
import subprocess
import sys

import torch
from torch import nn

from tlcore.training.optimizer import AdamW, WarmupCosine

LR, WARMUP, TOTAL = 3e-3, 4, 20


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _groups(net: nn.Module) -> list[dict]:
    decays = [p for p in net.parameters() if p.ndim > 1]
    rest = [p for p in net.parameters() if p.ndim == 1]
    return [{"params": decays, "lr": LR, "weight_decay": 0.05, "name": "head"},
            {"params": rest, "lr": LR * 0.5, "weight_decay": 0.0, "name": "head (no decay)"}]


def _torch_pair(net: nn.Module):
    opt = torch.optim.AdamW(_groups(net), fused=True)
    factor = WarmupCosine(AdamW(_groups(_net())), WARMUP, TOTAL).factor
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _own_pair(net: nn.Module):
    opt = AdamW(_groups(net))
    return opt, WarmupCosine(opt, WARMUP, TOTAL)


def _graphics_card_pair(net: nn.Module):
    """What a graphics card runs: torch.optim's fused AdamW."""
    opt = torch.optim.AdamW(_groups(net), fused=True)
    return opt, WarmupCosine(opt, WARMUP, TOTAL)


def _steps(net: nn.Module, opt, sched, start: int, count: int) -> None:
    for i in range(start, start + count):
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(16, 6, generator=g), torch.randint(3, (16,), generator=g)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        sched.step()


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_update_and_schedule_equal_torch_optim_bit_for_bit():
    theirs, ours = _net(), _net()
    t_opt, t_sched = _torch_pair(theirs)
    o_opt, o_sched = _own_pair(ours)
    for step in range(TOTAL):
        assert [g["lr"] for g in o_opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
        _steps(theirs, t_opt, t_sched, step, 1)
        _steps(ours, o_opt, o_sched, step, 1)
        assert _same(theirs, ours), f"step {step + 1}"
    assert o_opt.param_groups[0]["lr"] == 0.0  # the cosine ends at zero
    assert math.isclose(o_sched.factor(WARMUP - 1), 1.0)


def test_a_checkpoint_resumes_on_either_device_and_from_the_torch_optim_schedule():
    reference = _net()
    _steps(reference, *_own_pair(reference), 0, 10)

    pairs = ((_own_pair, _graphics_card_pair), (_graphics_card_pair, _own_pair), (_own_pair, _own_pair),
             (_torch_pair, _own_pair))  # the last: a checkpoint written before this module
    for save_with, resume_with in pairs:
        first = _net()
        opt, sched = save_with(first)
        _steps(first, opt, sched, 0, 5)
        saved = {"opt": opt.state_dict(), "sched": sched.state_dict(), "net": first.state_dict()}
        second = _net(seed=1)
        second.load_state_dict(saved["net"])
        opt2, sched2 = resume_with(second)
        opt2.load_state_dict(saved["opt"])
        sched2.load_state_dict(saved["sched"])
        _steps(second, opt2, sched2, 5, 5)
        assert _same(second, reference), (save_with.__name__, resume_with.__name__)


def test_training_on_a_processor_does_not_import_the_compiler():
    code = ("import sys, torch\n"
            "from tlcore.config import TrainConfig\n"
            "from tlcore.training.loop import recipe\n"
            "head = torch.nn.Linear(4, 2)\n"
            "opt, sched, loss_fn = recipe([{'params': list(head.parameters()), 'lr': 1e-3}], TrainConfig(data='x', epochs=2, batch_size=2),"
            " torch.tensor([0, 1]), 2, 2, torch.device('cpu'))\n"
            "loss_fn(head(torch.randn(2, 4))[:, :, None], torch.tensor([0, 1])).backward()\n"
            "opt.step(); sched.step(); opt.state_dict()\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
