"""Progress of a run through its phases, written at most every couple of seconds, and the share of
the whole run done, which the Train page's bar shows.

A run goes through its phases in the order of PHASES. Each "progress" event names its phase and
how far it is (``done`` of ``total``); a "plan" event gives each phase still to come its typical
seconds (``tlcore.training.timing.phases``) and the share of the run done before it (``after``),
so the bar moves in every phase and never goes back when a plan is made again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from tlcore.record import RecordError

EVERY_SECONDS = 2.0
MIN_SECONDS = 0.5  # a rate over less time than this is noise (a cached step can "run" at 10^10 images/s)

# A run's phases, in order -> (what it is doing, what a Stop lets it finish first).
PHASES = {
    "decode": ("Reading the images", "Stopping: finishing the current batch of images…"),
    "load": ("Loading the pretrained model", "Stopping: ending the loading of the pretrained model…"),
    "export": ("Preparing the pretrained model for this computer",
               "Stopping: ending the preparation of the pretrained model…"),
    "embed": ("Computing image features", "Stopping: finishing the current batch of features…"),
    "cv": ("Cross-validation", "Stopping: finishing the current step of the cross-validation…"),
    "train": ("Training", "Stopping: finishing the current batch of training; the best model so far is kept…"),
    "test": ("Scoring the test images", "Stopping: finishing the current batch of test images…"),
    "save": ("Saving the model", "Stopping: saving the model…"),
}
STOPPING = "Stopping: finishing the current step…"  # before the first phase is known


def stopping_words(phase: str | None) -> str:
    """What a Stop asked during ``phase`` waits for, in one line."""
    return PHASES[phase][1] if phase in PHASES else STOPPING


@dataclass(frozen=True)
class Progress:
    """One "progress" event: how far the run is in ``phase`` (``done`` of ``total``; in training, in
    ``epoch`` of ``epochs``) and how fast ``done`` grows (``per_second``, None until measured over
    long enough; ``images`` when ``done`` counts images)."""

    phase: str
    done: int
    total: int
    epoch: int | None = None
    epochs: int | None = None
    per_second: float | None = None
    images: bool = True

    @property
    def images_per_second(self) -> float | None:
        return self.per_second if self.images else None

    def seconds_left(self, epoch_seconds: list[float] = (), planned_epochs: int | None = None) -> float | None:
        """The time left: in training, of all of it (``epoch_seconds``, the finished epochs' times,
        else the first epoch's rate so far); in another phase, of this step; None when the step
        is over or it is too soon to tell."""
        if self.done >= self.total and self.phase != "train":
            return None
        epochs = self.epochs or planned_epochs or 0
        if self.phase == "train" and epochs:
            left = epochs - max(len(epoch_seconds), (self.epoch or 1) - 1) - self.done / max(self.total, 1)
            if epoch_seconds:
                return left * (sum(epoch_seconds) / len(epoch_seconds))
            return left * self.total / self.per_second if self.per_second else None
        return (self.total - self.done) / self.per_second if self.per_second else None


def emit_progress(emit: Callable[..., None], progress: Progress) -> None:
    """Report ``progress`` through ``emit(kind, **data)`` (a reporter's ``event``)."""
    emit("progress", **asdict(progress))


def read_progress(event: dict) -> Progress:
    """A "progress" event as written by ``emit_progress`` (its record's "type" and "time" aside)."""
    data = {f.name: event[f.name] for f in fields(Progress) if f.name in event}
    data.setdefault("per_second", event.get("images_per_second"))  # a run recorded before "per_second"
    return Progress(**data)


class Throttle:
    """A ``(done, total)`` callback that reports a "progress" event through ``emit(kind, **data)``
    (a reporter's ``event``) when enough time passed, with its rate (of images, with ``rates``)."""

    def __init__(self, emit: Callable[..., None], phase: str, epochs: int | None = None, rates: bool = True) -> None:
        self.emit, self.phase, self.epochs, self.epoch, self.rates = emit, phase, epochs, None, rates
        self._start = self._last = time.monotonic()
        self._last_done = 0

    def batch(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < self._last_done:  # a new pass started
            self._start = now
        self._last_done = done
        if now - self._last < EVERY_SECONDS and done < total:
            return
        self._last = now
        elapsed = now - self._start
        rate = done / elapsed if elapsed >= MIN_SECONDS and done else None
        emit_progress(self.emit, Progress(self.phase, done, total, self.epoch, self.epochs, rate, self.rates))

    def part(self, offset: int, total: int) -> Callable[[int, int], None]:
        """The callback of one pass among several that make up this step: its ``done`` counts
        from ``offset`` on, out of the step's ``total``."""
        return lambda done, _: self.batch(offset + done, total)


def report(emit: Callable[..., None], phase: str, done: int, total: int) -> None:
    """A "progress" event at once, for a step of few parts (loading a network)."""
    emit_progress(emit, Progress(phase, done, total))


def fraction(events: list[dict], epochs_done: int, planned_epochs: int | None) -> float:
    """The share of a run done (0..1) from its ``events`` (in order): the latest "plan" and the
    latest "progress" event; ``epochs_done`` the epochs finished and ``planned_epochs`` the run's."""
    plan = next((e for e in reversed(events) if e.get("type") == "plan"), None)
    latest = next((e for e in reversed(events) if e.get("type") == "progress"), None)
    if plan is None:
        return 0.0
    after = float(plan.get("after") or 0.0)
    if latest is None or latest.get("time", 0) < plan.get("time", 0):
        return after
    names = [name for name, _ in plan["phases"]]
    weights = [max(0.0, float(w)) for _, w in plan["phases"]]
    if latest["phase"] not in names or not sum(weights):
        return after
    at = names.index(latest["phase"])
    inside = latest["done"] / max(latest["total"], 1)
    epochs = latest.get("epochs") or planned_epochs or 0
    if latest["phase"] == "train" and epochs:
        inside = (max(epochs_done, (latest.get("epoch") or 1) - 1) + inside) / epochs
    share = (sum(weights[:at]) + weights[at] * min(1.0, inside)) / sum(weights)
    return min(1.0, after + (1.0 - after) * share)


def run_fraction(run) -> float:
    """The share done of the run in a run folder (a tlcore.rundir.RunDir)."""
    try:
        planned = run.record().config.epochs
    except RecordError:
        planned = None
    return fraction(run.events(), len(run.epochs()), planned)
