"""The device pool: every GPU of this computer is a slot, so a team's runs go side by side, one
per free GPU; a run with several processes takes as many slots and waits until all are free.
``TLSTUDIO_DEVICES`` lists the slots instead (for example "cuda:0,cuda:2", or "cpu,cpu" to try
the pool without GPUs). A run on the processor takes the one "cpu" slot unless it is listed."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import torch

from tlcore import lockfile
from tlcore.errors import TLError
from tlcore.workspace import locks_dir

ENV = "TLSTUDIO_DEVICES"
NOT_A_LIST = ('{var} is "{value}", which is not a list of devices: write them separated by commas, such as '
              '"cuda:0,cuda:1" for graphics cards or "cpu,cpu" for processor slots.')


def slots(device_type: str) -> list[str]:
    """The pool's slots for runs on ``device_type`` ("cuda" or "cpu"), as device names; TLError
    when TLSTUDIO_DEVICES is set to something else than such names separated by commas."""
    setting = os.environ.get(ENV, "")
    listed = [s.strip() for s in setting.split(",") if s.strip()]
    if not all(re.fullmatch(r"cpu|cuda(:\d+)?", s) for s in listed):
        raise TLError(NOT_A_LIST.format(var=ENV, value=" ".join(setting.split())))
    if listed:
        return listed
    if device_type == "cuda":
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cuda:0"]
    return ["cpu"]


def _lock_name(pool: list[str], i: int) -> str:
    name = pool[i].replace(":", "-")
    return f"{name}.lock" if pool.count(pool[i]) == 1 else f"{name}-{i}.lock"


def _take(paths: list[Path], count: int) -> dict[int, BinaryIO] | None:
    """Lock ``count`` free slots: their indices and lock files, kept open while held; or none."""
    got = {}
    for i, path in enumerate(paths):
        if (handle := lockfile.take(path)) is not None:
            got[i] = handle
            if len(got) == count:
                return got
    for handle in got.values():
        handle.close()
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
    paths = [locks_dir() / _lock_name(pool, i) for i in range(len(pool))]
    waited = False
    while (got := _take(paths, count)) is None:
        if should_stop():
            yield None
            return
        if not waited and on_wait:
            on_wait()
        waited = True
        time.sleep(poll)
    with contextlib.ExitStack() as stack:
        for handle in got.values():
            stack.enter_context(handle)
        yield [pool[i] for i in got]


def inherited(device_type: str) -> list[str]:
    """The slots that a process this one descends from holds: the parent of a spread run holds
    them for its torchrun ranks, one per local rank. The kernel's locks say which, so no
    environment variable can claim a slot that is not held."""
    pool = slots(device_type)
    return [pool[i] for i in range(len(pool)) if lockfile.held_by_ancestor(locks_dir() / _lock_name(pool, i))]


def free(device_type: str) -> int:
    """How many of the pool's slots no run holds now."""
    pool = slots(device_type)
    return sum(not lockfile.held(locks_dir() / _lock_name(pool, i)) for i in range(len(pool)))
