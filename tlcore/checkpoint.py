"""The training state on disk: written atomically after every epoch, read back to resume."""

from __future__ import annotations

import io
import json

import torch

from tlcore.atomic import atomic_write_bytes
from tlcore.rundir import RunDir


def clone_state(state: dict) -> dict:
    """A CPU copy of a state dict, safe to keep while training goes on."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def save_checkpoint(run: RunDir, model, optimizer, scheduler, generator, epoch: int, best: dict,
                    event: dict) -> None:
    """The full training state, written atomically so a kill never leaves half a checkpoint."""
    buf = io.BytesIO()
    torch.save({"epoch": epoch, "model": clone_state(model.state_dict()), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                "rng": torch.get_rng_state(), "event": json.dumps(event), **best}, buf)
    atomic_write_bytes(run.checkpoint_path, buf.getvalue())


def load_checkpoint(run: RunDir, model, optimizer, scheduler, generator) -> dict:
    """Restore the training state if this run was interrupted; {} for a fresh start."""
    if not run.checkpoint_path.is_file():
        return {}
    ck = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"])
    scheduler.load_state_dict(ck["scheduler"])
    generator.set_state(ck["generator"])
    torch.set_rng_state(ck["rng"])
    if max((e.epoch for e in run.epochs()), default=0) < ck["epoch"]:
        run.append_event("epoch", **json.loads(ck["event"]))  # killed between checkpoint and event
    run.append_event("resumed", epoch=ck["epoch"])
    return ck
