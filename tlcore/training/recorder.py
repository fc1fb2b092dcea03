"""The run folder as the engine's reporter: what training reports becomes the run's record
(status.json, events.jsonl, checkpoint.pt), and a Stop asked from the app reaches the loop."""

from __future__ import annotations

from tlcore.training.checkpoint import load_checkpoint, save_checkpoint
from tlcore.training.loop import LoopState
from tlcore.record import EpochEvent
from tlcore.rundir import RunDir


class RunRecorder:
    """Implements ``tlcore.training.reporter.Reporter`` on a run folder."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.acted = False  # training has seen the Stop (it acts on it at once)
        self.kept = False  # an epoch's model is kept: a Stop saves it

    def status(self, message: str, **fields) -> None:
        self.run.set_status("running", message=message, **fields)

    def event(self, kind: str, **data) -> None:
        self.run.append_event(kind, **data)

    def epoch(self, event: EpochEvent) -> None:
        self.run.append_epoch(event)
        self.kept = True

    def should_stop(self) -> bool:
        stop = self.run.cancel_requested()
        self.acted = self.acted or stop
        return stop

    def checkpoint(self, model, optimizer, scheduler, generator, state: LoopState, best_weights: dict | None,
                   event: dict) -> None:
        if self.run.records:  # the other ranks of a distributed run only read it
            save_checkpoint(self.run, model, optimizer, scheduler, generator, state, best_weights, event)

    def restore(self, model, optimizer, scheduler, generator) -> tuple[LoopState, dict | None]:
        return load_checkpoint(self.run, model, optimizer, scheduler, generator)
