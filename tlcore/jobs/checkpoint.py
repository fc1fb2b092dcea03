"""The training state on disk: written atomically after every epoch, read back to resume.

The checkpoint before the latest is kept too: a file can still end up damaged (a full disk, a
machine that lost power before the data reached it, a copy cut short), and then the run resumes
from the one before, saying so, instead of not at all."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tlcore.atomic import atomic_write_bytes
from tlcore.rundir import RunDir
from tlcore.training.checkpoint import checkpoint_bytes, read_checkpoint, restore
from tlcore.training.loop import LoopState

LOST_LATEST = "The last saved epoch could not be read; resumed from epoch {epoch}."
LOST_ALL = "The saved training state could not be read; training started again from the first epoch."


def _keep_previous(run: RunDir) -> None:
    """Make the current checkpoint the previous one, without a moment when neither is complete:
    a hard link (no copy) replaces the previous one, and the current one stays in place until the
    new one replaces it."""
    current, previous = run.checkpoint_path, run.previous_checkpoint_path
    if not current.is_file():
        return
    link = previous.with_name(f".{previous.name}.link")
    link.unlink(missing_ok=True)
    try:
        os.link(current, link)
    except OSError:  # a file system without hard links
        atomic_write_bytes(previous, current.read_bytes())
        return
    os.replace(link, previous)


def save_checkpoint(run: RunDir, model, optimizer, scheduler, generator, state: LoopState,
                    best_weights: dict | None, event: dict) -> None:
    """The full training state, written atomically so a kill never leaves half a checkpoint."""
    data = checkpoint_bytes(model, optimizer, scheduler, generator, state, best_weights, event)
    _keep_previous(run)
    atomic_write_bytes(run.checkpoint_path, data)


def _read(path: Path) -> dict | None:
    """A checkpoint's contents, or None when the file is missing, cut short or not a checkpoint."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return read_checkpoint(data)


def _readable(run: RunDir) -> dict | None:
    """The latest checkpoint that can be read. When it is not the latest saved one, the event log
    and worker.log say what was lost, and the unreadable file is removed so that the next save
    keeps the good one as its previous."""
    ck = _read(run.checkpoint_path)
    if ck is not None:
        return ck
    ck = _read(run.previous_checkpoint_path)
    lost = LOST_ALL if ck is None else LOST_LATEST.format(epoch=ck["epoch"])
    run.append_event("checkpoint_lost", message=lost)
    print(lost, file=sys.stderr)
    run.checkpoint_path.unlink(missing_ok=True)
    if ck is None:
        run.previous_checkpoint_path.unlink(missing_ok=True)
    return ck


def load_checkpoint(run: RunDir, model, optimizer, scheduler, generator) -> tuple[LoopState, dict | None]:
    """Restore the training state if this run was interrupted: where the loop was and the best
    epoch's weights; a fresh state for a fresh start."""
    if not (run.checkpoint_path.is_file() or run.previous_checkpoint_path.is_file()):
        return LoopState(), None
    ck = _readable(run)
    if ck is None:
        return LoopState(), None
    kept = restore(ck, model, optimizer, scheduler, generator)
    if max((e.epoch for e in run.epochs()), default=0) < ck["epoch"]:
        run.append_event("epoch", **json.loads(ck["event"]))  # killed between checkpoint and event
    run.append_event("resumed", epoch=ck["epoch"])
    return kept
