"""The worker's side of stopping: a worker told to end (SIGTERM, SIGINT) records "interrupted",
a second worker on a live run is refused, and the user's Stop ends a step that has no stop check
of its own (loading or exporting a network) while nothing is kept yet. Apart from worker.py,
which launches workers from the app, so that training code needs nothing of the app's side."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator

ALREADY_RUNNING = "This run is still training in another process; stop it or wait for it to finish first."
INTERRUPTED_TEXT = ("The training process was told to stop before it finished; resume the run to continue "
                    "from its last saved epoch.")


WATCH_SECONDS = 0.25  # how often a Stop is looked for
GRACE_SECONDS = 1.0  # how long training has to act on a Stop itself (its checks come after every batch)


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


class StopAsked(BaseException):
    """Raised in a worker's main thread when the user's Stop was not acted on by training itself
    (a step with no stop check of its own) while nothing was kept yet. A BaseException, as
    Interrupted."""


@contextlib.contextmanager
def stop_promptly(asked: Callable[[], bool], acted: Callable[[], bool], kept: Callable[[], bool]) -> Iterator[None]:
    """For the duration, a Stop (``asked()``) that training has not ``acted`` on within
    GRACE_SECONDS raises StopAsked in the main thread, unless a model is ``kept`` by then: a Stop
    then waits for training's own check, which saves that model. The signal (SIGUSR1) also wakes
    a main thread waiting on a lock or a thread pool. Outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    over, lock = threading.Event(), threading.Lock()

    def handler(signum, frame):
        if not over.is_set():  # (a signal sent as the duration ended is let go)
            raise StopAsked()

    def watch() -> None:
        since = None
        while not over.wait(WATCH_SECONDS):
            if since is None and asked():
                since = time.monotonic()
            if since is not None and time.monotonic() - since >= GRACE_SECONDS:
                if acted() or kept():
                    return
                with lock:  # never after the handler is put back: SIGUSR1's default ends the process
                    if not over.is_set():
                        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
                return

    previous = signal.signal(signal.SIGUSR1, handler)
    watcher = threading.Thread(target=watch, name="stop-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        over.set()
        with lock:  # a signal the watcher is sending reaches the handler before it is put back
            pass
        watcher.join()
        signal.signal(signal.SIGUSR1, previous)
