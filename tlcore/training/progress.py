"""Progress events inside long steps, written at most every couple of seconds."""

from __future__ import annotations

import time
from collections.abc import Callable

EVERY_SECONDS = 2.0
MIN_SECONDS = 0.5  # a rate over less time than this is noise (a cached step can "run" at 10^10 images/s)


class Throttle:
    """A ``(done, total)`` callback that reports a "progress" event through ``emit(kind, **data)``
    (a reporter's ``event``) when enough time passed, with images per second and the time left in
    this step."""

    def __init__(self, emit: Callable[..., None], phase: str, epochs: int | None = None) -> None:
        self.emit, self.phase, self.epochs, self.epoch = emit, phase, epochs, None
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
        self.emit("progress", phase=self.phase, epoch=self.epoch, epochs=self.epochs,
                              done=done, total=total, images_per_second=rate,
                              eta_seconds=(total - done) / rate if rate else None)
