"""The training state as bytes and back: what a reporter keeps after every epoch to resume from
(the run folder keeps it on disk: ``tlcore.jobs.checkpoint``)."""

from __future__ import annotations

import io
import json

import torch

from tlcore.training.loop import LoopState

PARTS = {"epoch", "model", "optimizer", "scheduler", "generator", "rng", "event"}


def clone_state(state: dict) -> dict:
    """A CPU copy of a state dict, safe to keep while training goes on."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def checkpoint_bytes(model, optimizer, scheduler, generator, state: LoopState, best_weights: dict | None,
                     event: dict) -> bytes:
    """The full training state after an epoch (``event`` is that epoch's, as JSON)."""
    buf = io.BytesIO()
    torch.save({"model": clone_state(model.state_dict()), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                "rng": torch.get_rng_state(), "event": json.dumps(event), "best_state": best_weights,
                **state.to_json()}, buf)
    return buf.getvalue()


def read_checkpoint(data: bytes) -> dict | None:
    """A checkpoint's contents, or None when the bytes are cut short or not a checkpoint."""
    try:
        ck = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # torch.load fails on damaged bytes with errors of many kinds (zip, pickle, EOF)
        return None
    return ck if isinstance(ck, dict) and PARTS <= ck.keys() else None


def restore(ck: dict, model, optimizer, scheduler, generator) -> tuple[LoopState, dict | None]:
    """Load a checkpoint's contents into these objects: where the loop was, and the best epoch's weights."""
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"])
    scheduler.load_state_dict(ck["scheduler"])
    generator.set_state(ck["generator"])
    torch.set_rng_state(ck["rng"])
    return LoopState.from_json(ck), ck.get("best_state")
