"""Whether a process lives, named by its pid and its start time (a pid is reused once its process is
gone, so the pair names one process). Linux's /proc; the run folder's locks and the standby use it."""

from __future__ import annotations

import os
from pathlib import Path


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (the state) on, or None when there is no such process. The
    command name before it may hold spaces and parentheses, so the split starts after its last ')'."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text[text.rfind(")") + 2:].split()


def process_start(pid: int) -> int | None:
    """When a live process started (field 22 of /proc/PID/stat, clock ticks since boot), or None.
    A pid is reused once its process is gone; the pid with its start time names one process."""
    stat = _proc_stat(pid) if isinstance(pid, int) and pid > 0 else None
    return int(stat[19]) if stat and stat[0] not in "ZX" else None


def pid_alive(pid: int | None, start: int | None = None) -> bool:
    """Whether process ``pid`` runs (and, with ``start``, is the one that started then). A zombie,
    dead but not yet collected by its parent, is not alive, and 0 or a negative number names a
    group of processes, never one."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is not None and stat[0] in "ZX":
        return False
    return start is None or process_start(pid) == start
