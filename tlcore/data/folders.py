"""Which files of a folder of images are read: hidden files and operating-system clutter
(``__MACOSX``, ``Thumbs.db``) are looked through, and links to folders the user made are followed,
as ``ls`` shows them, each real folder once, so a link loop ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

_CLUTTER = {"__macosx", "thumbs.db", "desktop.ini"}


def hidden(name: str) -> bool:
    """Whether a file or folder name is one the scan looks through."""
    return name.startswith(".") or name.lower() in _CLUTTER


def visible(folder: Path) -> list[Path]:
    """The entries of ``folder`` that are not hidden, sorted."""
    return sorted(p for p in folder.iterdir() if not hidden(p.name))


def subfolders(folder: Path) -> list[Path]:
    """The visible folders in ``folder`` (links to folders included), sorted."""
    return [p for p in visible(folder) if p.is_dir()]


def walk(top: Path, repeated: list[Path]) -> Iterator[Path]:
    """Every visible file under ``top``, in a stable order. A link to a folder already read (a
    loop, or a second way into the same folder) is not followed, and is added to ``repeated``."""
    seen = {_identity(top)}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        kept, shown = [], [d for d in dirnames if not hidden(d)]
        # Real folders claim their contents before links to them do.
        for d in sorted(shown, key=lambda d: (os.path.islink(Path(dirpath, d)), d)):
            folder = _identity(Path(dirpath, d))
            if folder is not None and folder in seen:
                repeated.append(Path(dirpath, d))
            else:  # one that cannot be read is left to os.walk, which passes over it
                seen.add(folder)
                kept.append(d)
        dirnames[:] = sorted(kept)
        yield from (Path(dirpath, f) for f in sorted(filenames) if not hidden(f))


def _identity(folder: Path) -> tuple[int, int] | None:
    """What makes a folder the same one whichever link leads to it: its device and inode (None if
    it cannot be read)."""
    try:
        st = folder.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
