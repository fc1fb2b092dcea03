"""Files written whole or not at all, so a reader (or a crash) never sees half of one."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from tlcore.errors import TLError

# "No space left" and "disk quota exceeded" both mean: nothing more fits here.
_FULL = {errno.ENOSPC, errno.EDQUOT}


def free_bytes(path: str | os.PathLike) -> int:
    """Free space on the disk holding ``path`` (or its nearest existing parent folder)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in _FULL


def disk_full(path: str | os.PathLike) -> TLError:
    """The one sentence a user sees when a write ran out of space next to ``path``."""
    return TLError(f"The disk is full ({free_bytes(path) // 2**20} MB free); delete old runs on the Runs page.")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, then rename: readers never see half a file.

    A full disk leaves the previous version (if any) untouched and raises ``disk_full``."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as err:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
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
