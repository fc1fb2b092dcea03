"""What the training engine tells the world and asks of it, in the manner of minGPT's callbacks
and Hugging Face's TrainerState/TrainerControl: status lines, events (progress, features, early
stop...), one typed event per epoch, whether to stop, and where to keep the training state.

The run folder implements it (``tlcore.jobs.recorder.RunRecorder``, which also keeps what loading
and finishing return); ``MemoryReporter`` keeps everything in lists, so a test or a notebook can
load data, train and score with no run folder at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tlcore.training.loop import LoopState
from tlcore.record import EpochEvent


class Reporter(Protocol):
    def status(self, message: str, **fields) -> None:
        """What training is doing now, in words (the run stays "running")."""

    def event(self, kind: str, **data) -> None:
        """Something that happened: "progress", "features", "early_stop", "recommendation"..."""

    def epoch(self, event: EpochEvent) -> None:
        """An epoch finished, with its metrics."""

    def should_stop(self) -> bool:
        """Whether the user asked to stop; checked after every batch."""

    def checkpoint(self, model, optimizer, scheduler, generator, state: LoopState, best_weights: dict | None,
                   event: dict) -> None:
        """Keep the training state after an epoch, so the run can resume from it."""

    def restore(self, model, optimizer, scheduler, generator) -> tuple[LoopState, dict | None]:
        """Load the kept training state into these objects; a fresh LoopState when there is none."""


@dataclass
class MemoryReporter:
    """A reporter that remembers what it was told; ``stop_after`` epochs it asks to stop."""

    stop_after: int | None = None
    statuses: list[str] = field(default_factory=list)
    events: list[tuple[str, dict]] = field(default_factory=list)
    epochs: list[EpochEvent] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)  # the epochs whose state was kept

    def status(self, message: str, **fields) -> None:
        self.statuses.append(message)

    def event(self, kind: str, **data) -> None:
        self.events.append((kind, data))

    def epoch(self, event: EpochEvent) -> None:
        self.epochs.append(event)

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.epochs) >= self.stop_after

    def checkpoint(self, model, optimizer, scheduler, generator, state: LoopState, best_weights: dict | None,
                   event: dict) -> None:
        self.checkpoints.append(state.epoch)

    def restore(self, model, optimizer, scheduler, generator) -> tuple[LoopState, dict | None]:
        return LoopState(), None
