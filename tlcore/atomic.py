"""Files written whole or not at all, so a reader (or a crash) never sees half of one."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tlcore.errors import TLError
from tlcore.home import home

# "No space left" and "disk quota exceeded" both mean: nothing more fits here.
_FULL = {errno.ENOSPC, errno.EDQUOT}
# A temporary file unchanged this long, and locked by no live writer, was left by a killed one.
STALE_SECONDS = 300.0
STUDIO_DISK_FULL = "The disk of the studio's folder is full ({free} MB free); delete old runs on the Runs page."
DISK_FULL = "The disk holding {folder} is full ({free} MB free); make room there or choose a folder on another disk."


def _nearest(path: str | os.PathLike) -> Path:
    """``path`` or its nearest existing parent folder."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: str | os.PathLike) -> int:
    """Free space on the disk holding ``path`` (or its nearest existing parent folder)."""
    return shutil.disk_usage(_nearest(path)).free


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in _FULL


def disk_full(path: str | os.PathLike) -> TLError:
    """The one sentence a user sees when a write ran out of space next to ``path``: deleting old
    runs helps only when the disk is the one holding the studio's folder; another disk is named."""
    near = _nearest(path)
    folder = near if near.is_dir() else near.parent
    free = free_bytes(folder) // 2**20
    if os.stat(folder).st_dev == os.stat(_nearest(home())).st_dev:
        return TLError(STUDIO_DISK_FULL.format(free=free))
    return TLError(DISK_FULL.format(folder=folder, free=free))


def _temp_names(name: str | None) -> re.Pattern:
    """The names ``temp_beside`` gives the temporary files of ``name`` (of any file when None), and
    those that exports gave before it (".tmp-XXXXXXXX-model.onnx")."""
    target = re.escape(name) if name else ".+"
    return re.compile(rf"\.+{target}\.[a-z0-9_]{{8}}\.tmp|\.tmp-[a-z0-9_]{{8}}-{target}$")


def sweep_temps(folder: str | os.PathLike, name: str | None = None) -> None:
    """Remove the temporary files that writers killed mid-write left in ``folder`` (those of the
    file ``name``, or of any file): unchanged for STALE_SECONDS and locked by no live process. A
    write cut short by a kill leaves one as big as the file it was writing. Never raises: tidying
    must not stop the work that asked for it."""
    pattern, now = _temp_names(name), time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat().st_mtime < STALE_SECONDS:
                continue
            with open(entry.path, "rb") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: its writer is alive
                os.unlink(entry.path)
        except OSError:
            continue


@contextlib.contextmanager
def temp_beside(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """A new empty file beside ``path`` to write before it replaces ``path`` (``suffix`` ends its
    name, for writers that go by the extension); removed unless it was renamed. It stays locked
    while this process lives, which tells a later ``sweep_temps`` that it is not a leftover; the
    leftovers of earlier writes of ``path`` are swept first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temps(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)  # before the lock goes: a sweep never sees it unlocked
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, then rename: readers never see half a file.

    A full disk leaves the previous version (if any) untouched and raises ``disk_full``."""
    path = Path(path)
    try:
        with temp_beside(path) as tmp:
            tmp.write_bytes(data)
            os.replace(tmp, path)
    except OSError as err:
        if is_disk_full(err):
            raise disk_full(path) from err
        raise


def atomic_write_json(path: Path, obj) -> None:
    """Atomically write ``obj`` as indented, key-sorted JSON."""
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True).encode())


def read_json(path: Path, default=None):
    """The JSON in ``path``, or ``default`` when it does not exist yet."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default
