"""The run directory: the contract between the app and the worker, and the run's record.

    config.json          the RunRecord: what was asked for, what was used, enough to reproduce the run
    status.json          the Status: state, heartbeat, pid, message, error
    events.jsonl         append-only: progress inside epochs and an EpochEvent after each epoch
    dataset.json         the dataset manifest with the split this run used
    checkpoint.pt        the latest training state (written atomically), for resuming
    metrics.json         the Metrics of the kept model: its score, per-split reports, calibration
    predictions.csv      each held-out image (validation or cross-validation) with its probabilities
    predictions-test.csv each test image with its probabilities
    bundle/              the trained model: model.safetensors + model.json
    tags.json            the user's labels for the run
    cancel               present when someone asked the run to stop

This class is the only code that knows these names; the parts are typed in record.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from tlcore.atomic import atomic_write_bytes, atomic_write_json
from tlcore.record import (ACTIVE, DAMAGED, INTERRUPTED, STATES, EpochEvent, Metrics, RecordError,
                           RunRecord, Status)

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
EXPORTS = {"onnx": "model.onnx", "pt2": "model.pt2", "card": "model-card.md"}


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDir:
    """Typed access to one run's folder. Safe to use from the app and the worker at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    config_path = property(lambda self: self.path / "config.json")
    status_path = property(lambda self: self.path / "status.json")
    events_path = property(lambda self: self.path / "events.jsonl")
    dataset_path = property(lambda self: self.path / "dataset.json")
    checkpoint_path = property(lambda self: self.path / "checkpoint.pt")
    metrics_path = property(lambda self: self.path / "metrics.json")
    bundle_path = property(lambda self: self.path / "bundle")
    log_path = property(lambda self: self.path / "worker.log")
    _cancel_path = property(lambda self: self.path / "cancel")
    _tags_path = property(lambda self: self.path / "tags.json")

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return self.config_path.is_file()

    def predictions_path(self, split: str = "val") -> Path:
        """The CSV of one split's predictions (validation and cross-validation share one file)."""
        return self.path / ("predictions-test.csv" if split == "test" else "predictions.csv")

    def export_path(self, fmt: str) -> Path:
        """Where an export of the run's model is kept once made ("onnx", "pt2", "card")."""
        return self.path / EXPORTS[fmt]

    def is_trained(self) -> bool:
        """True when the folder holds a model and its evaluation."""
        return self.metrics_path.is_file() and (self.bundle_path / "model.json").is_file()

    def _read(self, path: Path, default=None):
        """A record file's JSON; ``default`` when absent; RecordError naming the run when damaged."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return default
        except (ValueError, UnicodeDecodeError, OSError) as e:
            raise RecordError(f"The file {path.name} of run {self.name} is damaged and cannot be read.") from e

    def _where(self, path: Path) -> str:
        return f"The file {path.name} of run {self.name}"

    def record(self) -> RunRecord:
        """The run's record (config.json); RecordError when it is missing or damaged."""
        data = self._read(self.config_path)
        if data is None:
            raise RecordError(f"{self.path} is not a run folder (it has no config.json).")
        return RunRecord.from_json(data, self._where(self.config_path))

    def write_record(self, record: RunRecord) -> None:
        atomic_write_json(self.config_path, record.to_json())

    def status(self) -> Status:
        """The status as written; "interrupted" when its worker died or hung (its process is gone,
        or its heartbeat is over a minute old), "damaged" when status.json cannot be read."""
        try:
            data = self._read(self.status_path)
            st = Status("queued") if data is None else Status.from_json(data, self._where(self.status_path))
        except RecordError as e:
            return Status(DAMAGED, error=f"{e} Delete the run on the Runs page, or train it again.")
        if st.active and (time.time() - st.heartbeat > STALE_SECONDS or not pid_alive(st.pid)):
            return Status(INTERRUPTED, st.heartbeat, st.pid, st.created, st.message, epoch=st.epoch,
                          error="The training process stopped unexpectedly. Resume the run to continue "
                                "from its last checkpoint.")
        return st

    def _written_status(self) -> dict:
        """The status fields on disk, or none when the file is missing or damaged (then replaced)."""
        try:
            data = self._read(self.status_path, {})
        except RecordError:
            return {}
        return data if isinstance(data, dict) else {}

    def set_status(self, state: str, **fields) -> None:
        """Record a new state (and any extra fields), refreshing the heartbeat."""
        if state not in STATES:
            raise ValueError(state)
        with self._lock:
            st = {**self._written_status(), **fields, "state": state, "heartbeat": time.time(), "pid": os.getpid()}
            st.setdefault("created", time.time())
            atomic_write_json(self.status_path, Status.from_json(st).to_json())

    def beat(self) -> None:
        """Refresh the heartbeat, so the app knows the worker is alive."""
        with self._lock:
            st = self._written_status()
            if st.get("state") in ACTIVE:
                st["heartbeat"] = time.time()
                atomic_write_json(self.status_path, st)

    def append_event(self, kind: str, **data) -> None:
        """Append one JSON line; lines are written whole, so a reader sees complete events."""
        line = json.dumps({"type": kind, "time": time.time(), **data}, sort_keys=True) + "\n"
        with self._lock, open(self.events_path, "a", encoding="utf-8") as f:
            f.write(line)

    def append_epoch(self, event: EpochEvent) -> None:
        payload = event.to_json()
        kind = payload.pop("type")
        payload.pop("time")
        self.append_event(kind, **payload)

    def events(self, kind: str | None = None) -> list[dict]:
        """All events so far (optionally one kind); a half-written or damaged line is skipped."""
        out = []
        try:
            text = self.events_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict) and (kind is None or event.get("type") == kind):
                out.append(event)
        return out

    def epochs(self) -> list[EpochEvent]:
        """The last event of each finished epoch, in order (a resumed run may have written one
        twice); a damaged epoch line is skipped."""
        by_epoch: dict[int, EpochEvent] = {}
        for raw in self.events("epoch"):
            try:
                event = EpochEvent.from_json(raw, self._where(self.events_path))
            except RecordError:
                continue
            by_epoch[event.epoch] = event
        return [by_epoch[k] for k in sorted(by_epoch)]

    def request_cancel(self) -> None:
        """Ask the worker to stop after its current batch and keep the best model so far."""
        self._cancel_path.touch()

    def cancel_requested(self) -> bool:
        return self._cancel_path.exists()

    def clear_cancel(self) -> None:
        self._cancel_path.unlink(missing_ok=True)

    def metrics(self) -> Metrics | None:
        """The kept model's evaluation; None before the run has one; RecordError when damaged."""
        data = self._read(self.metrics_path)
        return None if data is None else Metrics.from_json(data, self._where(self.metrics_path))

    def write_metrics(self, metrics: Metrics) -> None:
        atomic_write_json(self.metrics_path, metrics.to_json())

    def write_predictions(self, split: str, data: bytes) -> None:
        atomic_write_bytes(self.predictions_path(split), data)

    def tags(self) -> list[str]:
        """The labels a user gave the run (none when the file is damaged)."""
        try:
            data = self._read(self._tags_path, [])
        except RecordError:
            return []
        return [t for t in data if isinstance(t, str)] if isinstance(data, list) else []

    def set_tags(self, labels: list[str]) -> None:
        """Replace the run's labels (blank ones dropped, order and case kept, no repeats)."""
        atomic_write_json(self._tags_path, list(dict.fromkeys(t.strip() for t in labels if t.strip())))


class Heartbeat:
    """A background thread that refreshes the run's heartbeat while a long step runs."""

    def __init__(self, run: RunDir, every: float = HEARTBEAT_SECONDS) -> None:
        self._run, self._every = run, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self._run.beat()

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
