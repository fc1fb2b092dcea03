"""The worker's side of stopping: a worker told to end (SIGTERM, SIGINT) records "interrupted",
and a second worker on a live run is refused. Apart from worker.py, which launches workers
from the app, so that training code needs nothing of the app's side."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

ALREADY_RUNNING = "This run is still training in another process; stop it or wait for it to finish first."
INTERRUPTED_TEXT = ("The training process was told to stop before it finished; resume the run to continue "
                    "from its last saved epoch.")


class Interrupted(BaseException):
    """Raised in a worker's main thread when it is told to end (SIGTERM or SIGINT). A
    BaseException, so that no ``except Exception`` on the way treats it as a training error."""


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into Interrupted for the duration, once: a second signal while the
    worker records its interrupted state is ignored. Files are written atomically, so the
    checkpoint on disk stays the last complete one. Outside the main thread, signals cannot be
    handled there, and nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    told = []

    def handler(signum, frame):
        if not told:
            told.append(signum)
            raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
