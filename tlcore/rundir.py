"""The run directory: the contract between the app and the worker, and the run's record.

    config.json     what was asked for and what was resolved; enough to reproduce the run
    status.json     state (queued/running/finished/failed/cancelled), heartbeat, pid, error
    events.jsonl    append-only: progress inside epochs and metrics after each epoch
    dataset.json    the dataset manifest with the split this run used
    checkpoint.pt   the latest training state (written atomically), for resuming
    metrics.json    final validation (and test) metrics
    predictions.csv validation predictions: file, true class, predicted class, probabilities
    bundle/         the trained model: model.safetensors + model.json
    cancel          present when someone asked the run to stop
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from tlcore.atomic import atomic_write_json, read_json

STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0


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
    predictions_path = property(lambda self: self.path / "predictions.csv")
    bundle_path = property(lambda self: self.path / "bundle")
    log_path = property(lambda self: self.path / "worker.log")
    _cancel_path = property(lambda self: self.path / "cancel")

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return self.config_path.is_file()

    def read_config(self) -> dict:
        return read_json(self.config_path, {})

    def write_config(self, record: dict) -> None:
        atomic_write_json(self.config_path, record)

    def status(self) -> dict:
        """The status as written, with ``state`` "interrupted" when its worker died or hung
        (its process is gone, or its heartbeat is over a minute old)."""
        st = read_json(self.status_path, {"state": "queued"}) or {"state": "queued"}
        stale = time.time() - st.get("heartbeat", 0) > STALE_SECONDS
        if st.get("state") in ACTIVE and (stale or not pid_alive(st.get("pid"))):
            st = {**st, "state": "interrupted",
                  "error": "The training process stopped unexpectedly. Resume the run to continue "
                           "from its last checkpoint."}
        return st

    def set_status(self, state: str, **fields) -> None:
        """Record a new state (and any extra fields), refreshing the heartbeat."""
        assert state in STATES, state
        with self._lock:
            st = read_json(self.status_path, {}) or {}
            st.update(fields, state=state, heartbeat=time.time(), pid=os.getpid())
            st.setdefault("created", time.time())
            atomic_write_json(self.status_path, st)

    def beat(self) -> None:
        """Refresh the heartbeat, so the app knows the worker is alive."""
        with self._lock:
            st = read_json(self.status_path, {}) or {}
            if st.get("state") in ACTIVE:
                st["heartbeat"] = time.time()
                atomic_write_json(self.status_path, st)

    def append_event(self, kind: str, **data) -> None:
        """Append one JSON line; lines are written whole, so a reader sees complete events."""
        line = json.dumps({"type": kind, "time": time.time(), **data}, sort_keys=True) + "\n"
        with self._lock, open(self.events_path, "a", encoding="utf-8") as f:
            f.write(line)

    def events(self, kind: str | None = None) -> list[dict]:
        """All events so far (optionally one kind); a half-written last line is ignored."""
        out = []
        try:
            text = self.events_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if kind is None or event.get("type") == kind:
                out.append(event)
        return out

    def request_cancel(self) -> None:
        """Ask the worker to stop after its current batch and keep the best model so far."""
        self._cancel_path.touch()

    def cancel_requested(self) -> bool:
        return self._cancel_path.exists()

    def clear_cancel(self) -> None:
        self._cancel_path.unlink(missing_ok=True)

    def metrics(self) -> dict | None:
        return read_json(self.metrics_path)


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
