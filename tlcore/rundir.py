"""The run directory: the contract between the app and the worker, and the run's record.

    config.json          the RunRecord: what was asked for, what was used, enough to reproduce the run
    status.json          the Status: state, heartbeat, pid, message, error
    events.jsonl         append-only: progress inside epochs and an EpochEvent after each epoch
    dataset.json         the dataset manifest with the split this run used
    checkpoint.pt        the latest training state (written atomically), for resuming
    checkpoint-previous.pt the one before it, kept in case the latest cannot be read
    worker.lock          locked by the run's worker for its whole life: one worker per run folder
    metrics.json         the Metrics of the kept model: its score, per-split reports, calibration
    predictions.csv      each held-out image (validation or cross-validation) with its probabilities
    predictions-test.csv each test image with its probabilities
    bundle/              the trained model: model.safetensors + model.json
    tags.json            the user's labels for the run
    not-sure.json        the user's "not sure" rule for the run's answers (else the bundle's own)
    exports.json         the sha256 of each export (EXPORTS) kept when made: one changed since never ships
    title.json           the name the user gave the run, if any (else one is made from config.json)
    cancel               present when someone asked the run to stop

This class is the only code that knows these names; the parts are typed in record.py.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tlcore import lockfile
from tlcore.atomic import atomic_write_bytes, atomic_write_json
from tlcore.models.bundle_paths import run_bundle
from tlcore.processes import pid_alive
from tlcore.record import (ACTIVE, DAMAGED, INTERRUPTED, STATES, EpochEvent, Metrics, NotSureRule, RecordError,
                           RunRecord, Status)

HEARTBEAT_SECONDS = 5.0
RUN_FILE = "The file {file} of run {run}"
DAMAGED_FILE = "{where} is damaged and cannot be read."
STALE_SECONDS = 60.0
LOCK_RETRY_SECONDS = 1.0  # a status check holds a run's lock for an instant; a worker outlasts that
EXPORTS = {"onnx": "model.onnx", "pt2": "model.pt2", "card": "model-card.md", "web": "web-demo.zip"}


class RunDir:
    """Typed access to one run's folder. Safe to use from the app and the worker at once."""

    records = True  # whether this process writes the run's record (see QuietRun)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    config_path = property(lambda self: self.path / "config.json")
    status_path = property(lambda self: self.path / "status.json")
    events_path = property(lambda self: self.path / "events.jsonl")
    dataset_path = property(lambda self: self.path / "dataset.json")
    checkpoint_path = property(lambda self: self.path / "checkpoint.pt")
    metrics_path = property(lambda self: self.path / "metrics.json")
    bundle = property(lambda self: run_bundle(self.path))
    bundle_path = property(lambda self: self.bundle.folder)
    previous_checkpoint_path = property(lambda self: self.path / "checkpoint-previous.pt")
    log_path = property(lambda self: self.path / "worker.log")
    not_sure_path = property(lambda self: self.path / "not-sure.json")
    _lock_path = property(lambda self: self.path / "worker.lock")
    _cancel_path = property(lambda self: self.path / "cancel")
    _tags_path = property(lambda self: self.path / "tags.json")
    _title_path = property(lambda self: self.path / "title.json")
    _exports_path = property(lambda self: self.path / "exports.json")

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return self.config_path.is_file()

    def predictions_path(self, split: str = "val") -> Path:
        """The CSV of one split's predictions (validation and cross-validation share one file)."""
        return self.path / ("predictions-test.csv" if split == "test" else "predictions.csv")

    def export_path(self, fmt: str) -> Path:
        """Where an export of the run's model is kept once made ("onnx", "pt2", "card", "web")."""
        return self.path / EXPORTS[fmt]

    def _exports(self) -> dict:
        """exports.json; {} when absent or damaged (then every export is made again)."""
        with contextlib.suppress(RecordError):
            data = self._read(self._exports_path, {})
            return data if isinstance(data, dict) else {}
        return {}

    def record_export(self, fmt: str) -> None:
        """Record the sha256 of the export ``fmt`` just written to ``export_path`` (see ``export_bytes``)."""
        atomic_write_json(self._exports_path, {**self._exports(), fmt: _sha256(self.export_path(fmt).read_bytes())})

    def export_bytes(self, fmt: str) -> bytes | None:
        """The export ``fmt`` kept in the run folder when its contents are the ones recorded when it
        was made; None when it is missing, unrecorded or changed since."""
        with contextlib.suppress(OSError):
            data = self.export_path(fmt).read_bytes()
            return data if self._exports().get(fmt) == _sha256(data) else None
        return None

    def is_trained(self) -> bool:
        """True when the folder holds a model and its evaluation."""
        return self.metrics_path.is_file() and self.bundle.meta.is_file()

    def _read(self, path: Path, default=None):
        """A record file's JSON; ``default`` when absent; RecordError naming the run when damaged."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return default
        except (ValueError, UnicodeDecodeError, OSError) as e:
            raise RecordError(DAMAGED_FILE.format(where=self._where(path))) from e

    def _where(self, path: Path) -> str:
        return RUN_FILE.format(file=path.name, run=self.name)

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
        it no longer holds the run's lock, or its heartbeat is over a minute old), "damaged" when
        status.json cannot be read, and "running" while a worker holds the run's lock, whatever
        became of status.json."""
        data = damaged = None
        try:
            data = self._read(self.status_path)
            st = Status("queued") if data is None else Status.from_json(data, self._where(self.status_path))
        except RecordError as e:
            damaged = e
        if data is None or damaged:
            if self.worker_alive():  # status.json went missing or bad under a live worker: ask its lock
                return Status("running", time.time(), message="Training")
            if damaged:
                return Status(DAMAGED, error=f"{damaged} Delete the run on the Runs page, or train it again.")
        # A worker holds the lock it created while it writes "running": a free lock means the
        # worker is gone, even when its pid already belongs to another process.
        lock_free = st.state == "running" and self._lock_path.exists() and not self.worker_alive()
        if st.active and (time.time() - st.heartbeat > STALE_SECONDS or not pid_alive(st.pid) or lock_free):
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

    @contextlib.contextmanager
    def worker_lock(self) -> Iterator[bool]:
        """Hold the run's worker lock for the duration; yields False when another process holds it.
        The OS releases the lock when its holder ends, however it ends, so it never goes stale, and
        deleting worker.lock does not free it (see lockfile). A status check holds the lock for an
        instant, so taking it is retried for a moment."""
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        while (handle := lockfile.take(self._lock_path)) is None:
            if time.monotonic() > deadline:
                yield False
                return
            time.sleep(0.05)
        with handle:
            yield True

    def worker_alive(self) -> bool:
        """Whether a worker process holds this run's lock now (even when worker.lock was deleted)."""
        return lockfile.held(self._lock_path)

    def locked_by_ancestor(self) -> bool:
        """Whether a process this one descends from holds the run's lock: the parent of a spread
        run holds it for the run's torchrun ranks."""
        return lockfile.held_by_ancestor(self._lock_path)

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

    def predictions(self, split: str = "val") -> list[dict]:
        """One split's predictions, a dict per image: file, true and predicted class as they were
        before the CSV made them safe for spreadsheets, confidence and every p_<class> as numbers;
        [] before the run has them; RecordError when the file is damaged."""
        from tlcore.data.portable import spreadsheet_text  # (numpy and Pillow: only for readers of predictions)

        path = self.predictions_path(split)
        try:
            with path.open(newline="", encoding="utf-8") as f:
                return [{k: spreadsheet_text(v) if k in ("file", "true", "predicted") else float(v)
                         for k, v in row.items()} for row in csv.DictReader(f)]
        except FileNotFoundError:
            return []
        except (ValueError, TypeError, UnicodeDecodeError, csv.Error, OSError) as e:
            raise RecordError(DAMAGED_FILE.format(where=self._where(path))) from e

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

    def not_sure_rule(self) -> NotSureRule | None:
        """The "not sure" rule the user chose for this run; None when none was chosen (or the file is
        damaged: then the model's own rule applies, as a damaged tags file shows no tags)."""
        try:
            data = self._read(self.not_sure_path)
            return None if data is None else NotSureRule.from_json(data, self._where(self.not_sure_path))
        except RecordError:
            return None

    def set_not_sure_rule(self, rule: NotSureRule | None) -> None:
        """Keep the user's rule; None forgets it, so the model's own applies again."""
        if rule is None:
            self.not_sure_path.unlink(missing_ok=True)
        else:
            atomic_write_json(self.not_sure_path, rule.to_json())

    def title(self) -> str:
        """The name the user gave the run; "" when none was given or the file is damaged (then
        the run is shown under its default name, as a damaged tags file shows no tags)."""
        try:
            data = self._read(self._title_path, "")
        except RecordError:
            return ""
        return _one_line(data) if isinstance(data, str) else ""

    def set_title(self, title: str) -> None:
        """Name the run (one line, at most TITLE_CHARS characters); a blank name removes the
        user's name, so the default one shows again."""
        title = _one_line(title)
        if title:
            atomic_write_json(self._title_path, title)
        else:
            self._title_path.unlink(missing_ok=True)


TITLE_CHARS = 80


class QuietRun(RunDir):
    """A run folder read by the other ranks of a distributed run: they read its request,
    dataset, checkpoint and Stop like rank 0, and record nothing (rank 0 alone writes)."""

    records = False

    def write_record(self, record: RunRecord) -> None:
        pass

    def set_status(self, state: str, **fields) -> None:
        pass

    def beat(self) -> None:
        pass

    def append_event(self, kind: str, **data) -> None:
        pass

    def write_metrics(self, metrics: Metrics) -> None:
        pass

    def write_predictions(self, split: str, data: bytes) -> None:
        pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one_line(text: str) -> str:
    """``text`` on one line, without surrounding blanks, cut to TITLE_CHARS characters."""
    return " ".join(text.split())[:TITLE_CHARS]


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
