"""Waiting, in a test, for what another process or thread does."""

import time


def wait_for(predicate, timeout: float, every: float = 0.1, explain=lambda: "timed out") -> float:
    """Seconds until ``predicate()`` held, checked every ``every`` seconds; fails with ``explain()``
    after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, explain()
        time.sleep(every)
    return time.monotonic() - start
