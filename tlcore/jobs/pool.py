"""The device pool: every GPU of this computer is a slot, so a team's runs go side by side, one
per free GPU; a run with several processes takes as many slots and waits until all are free.
``TLSTUDIO_DEVICES`` lists the slots instead (for example "cuda:0,cuda:2", or "cpu,cpu" to try
the pool without GPUs). A run on the processor takes the one "cpu" slot unless it is listed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from tlcore.workspace import locks_dir

ENV = "TLSTUDIO_DEVICES"


def slots(device_type: str) -> list[str]:
    """The pool's slots for runs on ``device_type`` ("cuda" or "cpu"), as device names."""
    listed = [s.strip() for s in os.environ.get(ENV, "").split(",") if s.strip()]
    if listed:
        return listed
    if device_type == "cuda":
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cuda:0"]
    return ["cpu"]


def _lock_name(pool: list[str], i: int) -> str:
    name = pool[i].replace(":", "-")
    return f"{name}.lock" if pool.count(pool[i]) == 1 else f"{name}-{i}.lock"


def _take(handles: list, count: int) -> list[int] | None:
    """Lock ``count`` free slots (indices), or none of them."""
    got = []
    for i, handle in enumerate(handles):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        got.append(i)
        if len(got) == count:
            return got
    for i in got:
        fcntl.flock(handles[i], fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def hold(count: int, device_type: str, on_wait: Callable[[], None] | None = None,
         should_stop: Callable[[], bool] = lambda: False, poll: float = 1.0) -> Iterator[list[str] | None]:
    """Hold ``count`` slots of the pool for the duration and yield their device names; wait
    (calling ``on_wait`` once) until that many are free at once. Yields None when ``should_stop``
    became true while waiting, or when the pool has fewer slots than ``count``."""
    pool = slots(device_type)
    if count > len(pool):
        yield None
        return
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(locks_dir() / _lock_name(pool, i), "a+")) for i in range(len(pool))]
        waited = False
        while (got := _take(handles, count)) is None:
            if should_stop():
                yield None
                return
            if not waited and on_wait:
                on_wait()
            waited = True
            time.sleep(poll)
        try:
            yield [pool[i] for i in got]
        finally:
            for i in got:
                fcntl.flock(handles[i], fcntl.LOCK_UN)


def held(path: Path) -> bool:
    """Whether a run holds the lock file ``path`` now (a shared lock cannot be had while it does)."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def free(device_type: str) -> int:
    """How many of the pool's slots no run holds now."""
    pool = slots(device_type)
    return sum(not held(locks_dir() / _lock_name(pool, i)) for i in range(len(pool)))
