"""Suggestions made in the background, so a Label page never waits for them.

A ``Labeller`` belongs to one dataset (and the model and image size its features use). It computes
the pool's features once, with progress, then the suggestions, in a thread of its own; the page
reads ``state()`` on each draw and keeps labelling by hand meanwhile. ``keep_current()`` starts a new
computation when the pool or the labels changed since the last one (a confirmed batch, a bulk
accept, an undo, images added, another tab): with the features cached that takes seconds. The
thread calls nothing of Streamlit; a TLError becomes its one plain line in ``state()["error"]``.
"""

from __future__ import annotations

import logging
import os
import threading

from tlcore.data.labels import read_record
from tlcore.data.pool import home, read_pool
from tlcore.errors import TLError
from tlcore.studio.labelling import Suggested, suggestions

FAILED = "The suggestions could not be made; the details are in the studio's log. You can still label by hand."
_log = logging.getLogger(__name__)

__all__ = ["Labeller"]


class Labeller:
    """The latest suggestions for one dataset's pool, remade in a background thread when it changes."""

    def __init__(self, data: str | os.PathLike, model: str, image_size: int = 0) -> None:
        self.data, self.model, self.image_size = str(data), model, image_size
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wanted = None  # the pool and labels the running (or last) computation is for
        self._made_for = None  # ... and the ones ``_result`` or ``_error`` describe
        self._result: Suggested | None = None
        self._error = ""
        self._progress = (0, 0)

    def _signature(self) -> tuple:
        """What the suggestions depend on: the pool's images and the labels given so far."""
        where = home(self.data)
        return frozenset(i.sha256 for i in read_pool(where)), len(read_record(where))

    def keep_current(self) -> None:
        """Start computing when the pool or the labels changed since the last computation; one runs
        at a time, and a change seen while it runs is computed next, by the same thread."""
        wanted = self._signature()
        with self._lock:
            if wanted == self._wanted or self._thread is not None:
                return
            self._wanted, self._progress = wanted, (0, 0)
            self._thread = threading.Thread(target=self._run, args=(wanted,), name="labelling-suggestions",
                                            daemon=True)
            self._thread.start()

    def _run(self, wanted: tuple) -> None:
        while True:
            result, error = None, ""
            try:
                result = suggestions(self.data, self.model, self.image_size, progress=self._report)
            except TLError as e:
                error = str(e)
            except Exception:  # a thread's error would otherwise vanish: log it, say one line
                _log.exception("Making labelling suggestions failed")
                error = FAILED
            with self._lock:
                self._result, self._error, self._made_for = result, error, wanted
                try:
                    now = self._signature()
                except (TLError, OSError):  # the dataset is gone or unreadable: the page says so
                    now = wanted
                if now == wanted:
                    self._thread = None  # under the lock: keep_current starts the next one from here on
                    return
                self._wanted, wanted, self._progress = now, now, (0, 0)

    def _report(self, done: int, total: int) -> None:
        with self._lock:
            self._progress = (done, total)

    def state(self) -> dict:
        """busy (computing now), done and total (images whose features are computed, of those needed),
        suggested (the latest Suggested, or None), current (it describes the pool and labels now),
        error (one plain line when the last computation could not suggest, else "")."""
        now = self._signature()
        with self._lock:
            busy = self._thread is not None
            return {"busy": busy, "done": self._progress[0], "total": self._progress[1],
                    "suggested": self._result, "current": not busy and self._made_for == now,
                    "error": self._error}

    def join(self, timeout: float | None = None) -> None:
        """Wait for the running computation (tests, and a server shutting down)."""
        thread = self._thread
        if thread:
            thread.join(timeout)
