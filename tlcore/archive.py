"""Safe zip extraction: nothing is written outside the destination, and size caps hold
even when the zip's headers lie."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

from tlcore.errors import TLError

_log = logging.getLogger(__name__)


def extract_zip(zip_path: str | os.PathLike, dest: str | os.PathLike,
                max_entries: int = 100_000, max_total_bytes: int = 8 * 2**30) -> Path:
    """Safely unpack a zip into ``dest``; unsafe entries (absolute, ``..``, symlinks) are never written."""
    zip_path, dest = Path(zip_path), Path(dest)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise TLError(f"{zip_path.name} is not a zip file (or it is damaged), so it could not be opened.") from err
    with archive:
        _check_caps(zip_path.name, archive.infolist(), max_entries, max_total_bytes)
        if dest.exists() and any(dest.iterdir()):
            raise TLError(f"Cannot unpack {zip_path.name} into {dest}: that folder is not empty.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Unpack beside dest and rename at the end, so dest is either complete or absent.
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
        try:
            _write_entries(archive, tmp, max_total_bytes, zip_path.name)
            os.replace(tmp, dest)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise TLError(f"{zip_path.name} could not be unpacked ({err}); it may be damaged.") from err
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def _check_caps(name: str, infos: list[zipfile.ZipInfo], max_entries: int, max_total_bytes: int) -> None:
    """Refuse a zip whose declared contents are over the caps, before writing anything."""
    if len(infos) > max_entries:
        raise TLError(f"{name} holds {len(infos):,} entries; the limit is {max_entries:,}. "
                      "Split it into smaller zips.")
    declared = sum(i.file_size for i in infos)
    if declared > max_total_bytes:
        raise TLError(f"{name} would unpack to {_human(declared)}; the limit is {_human(max_total_bytes)}. "
                      "Split it into smaller zips.")


def _write_entries(archive: zipfile.ZipFile, root: Path, max_total_bytes: int, name: str) -> None:
    """Stream every safe file entry into ``root``, counting the bytes actually written."""
    written = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        target = _safe_target(root, info)
        if target is None:
            _log.warning("Skipped unsafe zip entry %r in %s", info.filename, name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                # Headers can lie about sizes; this is the cap that cannot be fooled.
                if written > max_total_bytes:
                    raise TLError(f"{name} unpacks to more than {_human(max_total_bytes)}, the limit. "
                                  "Split it into smaller zips.")
                out.write(chunk)


def _safe_target(root: Path, info: zipfile.ZipInfo) -> Path | None:
    """Where an entry may be written inside ``root``, or None if it is a symlink or points outside."""
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return None
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in name.split("/"):
        return None
    # Belt and braces: whatever form the name takes, the resolved target must stay inside root.
    target = (root / name).resolve()
    return target if target.is_relative_to(root.resolve()) else None


def _human(n: int) -> str:
    """Bytes in the largest unit that keeps the number at least 1."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:,} bytes"
