"""Files written whole or not at all, so a reader (or a crash) never sees half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
