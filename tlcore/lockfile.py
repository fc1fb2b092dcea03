"""Locks that belong to a live process: an flock on a file that its holder keeps open, which the
system releases when the holder ends, however it ends. The file only names the lock. Deleting or
replacing it while the lock is held leaves the holder with its lock on the old file, which the
kernel still lists under that name (as "NAME (deleted)" in /proc): a process asking for the lock
then is told it is taken, so deleting a lock file never lets a second holder in."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

DELETED = " (deleted)"  # how /proc names an open file that is no longer in its folder


def _flock_pids() -> set[int]:
    """The processes holding an flock now, from /proc/locks (requests still waiting, "->", left out)."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return set()
    return {int(f[4]) for f in map(str.split, lines) if len(f) > 4 and f[1] == "FLOCK" and f[4].isdigit()}


def _holds_exclusive(pid: int, fd: str) -> bool:
    """Whether process ``pid`` holds an exclusive flock through its file descriptor ``fd``."""
    try:
        info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return False
    return any(line.startswith("lock:") and " FLOCK " in line and " WRITE " in line for line in info.splitlines())


def _holders(names: set[str], among: set[int]) -> set[int]:
    """The processes of ``among`` that hold an exclusive flock on an open file called one of ``names``."""
    found = set()
    for pid in among:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in names and _holds_exclusive(pid, fd):
                found.add(pid)
                break
    return found


def _orphan_held(path: Path) -> bool:
    """Whether a live process still holds the lock on a file that was at ``path`` until it was
    deleted or replaced."""
    return bool(_holders({os.path.realpath(path) + DELETED}, _flock_pids()))


def _is_at(handle: BinaryIO, path: Path) -> bool:
    """Whether the open file ``handle`` is the one at ``path`` now."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def take(path: Path) -> BinaryIO | None:
    """Lock ``path`` for this process without waiting (the file is made when missing): the open
    file, which holds the lock until it is closed, or None when a live process holds it."""
    while True:
        handle = open(path, "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        if not _is_at(handle, path):  # deleted or replaced between opening and locking: lock the one there now
            handle.close()
            continue
        if _orphan_held(path):
            handle.close()
            return None
        return handle


def held(path: Path) -> bool:
    """Whether a live process holds the lock ``path`` names (taken with ``take``)."""
    try:
        with open(path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # granted unless someone holds it
    except FileNotFoundError:
        pass
    except BlockingIOError:
        return True
    return _orphan_held(path)


def _ancestors() -> set[int]:
    """The processes this one descends from: its parent, the parent's parent, and so on."""
    found, pid = set(), os.getppid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), 0)
    return found


def held_by_ancestor(path: Path) -> bool:
    """Whether a process this one descends from holds the lock ``path`` names: the kernel's
    answer, which no setting of this process's environment can forge."""
    real = os.path.realpath(path)
    return bool(_holders({real, real + DELETED}, _ancestors() & _flock_pids()))
