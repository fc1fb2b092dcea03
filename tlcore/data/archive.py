"""Safe zip extraction: nothing is written outside the destination, and size caps hold
even when the zip's headers lie.

Photos barely compress (JPEG and PNG are compressed already), so a zip that would grow more
than ``MAX_RATIO`` times when unpacked is refused as a probable zip bomb. Uncompressed images
(a page scanned to BMP, TIFF or PNM) compress that well honestly, so an entry whose header declares
an image within the pixel limit may grow to what those pixels take (``_image_bytes``); only the
bytes beyond that count towards the ratio, and they are counted as written, so a header cannot lie
its way past. (A TIFF whose directory lies past its first ``HEADER_BYTES`` declares nothing here.)
One import may use at most ``DISK_SHARE`` of the free disk. A refused or failed unpacking leaves
nothing behind.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tlcore.atomic import disk_full, free_bytes, is_disk_full
from tlcore.data.portable import MAX_PIXELS
from tlcore.errors import TLError

MAX_RATIO = 100
# Below this, any ratio is harmless (a few text files compress 1000:1).
RATIO_FLOOR = 16 * 2**20
DISK_SHARE = 0.9
MAX_NAME_BYTES = 255  # the longest file or folder name most file systems accept
# Formats whose files hold their pixels uncompressed or stored (PNG within a zip), and read from a header.
DECLARING_FORMATS = ("BMP", "DIB", "TIFF", "PPM", "PNG")
HEADER_BYTES = 16 * 2**10

# What a user sees; {name} is the zip's name. A skipped entry's reason completes a sentence naming it.
NOT_A_ZIP = "{name} is not a zip file (or it is damaged), so it could not be opened."
BOMB = ("{name} would grow from {size} to {unpacked} when unpacked, which photos never do, so it was refused "
        "as unsafe; zip the image folders again.")
EMPTY_ZIP = "{name} is empty; put one folder of images per class in it and zip it again."
PASSWORD = "{name} is protected by a password; unpack it yourself and zip the folders again without one."
LINK = "is a link, and links inside a zip are not unpacked"
OUTSIDE = "points outside the zip's folders, so it was not unpacked"
LONG_NAME = "has a name longer than {limit} characters, so it was not unpacked"

ZipSource = str | os.PathLike | bytes
Cap = Callable[[int], TLError]


def extract_zip(source: ZipSource, dest: str | os.PathLike, max_entries: int = 100_000,
                max_total_bytes: int = 8 * 2**30, name: str | None = None) -> Path:
    """Safely unpack a zip (a path, or its bytes) into ``dest``; unsafe entries (absolute, ``..``,
    links, overlong names) are never written. ``name`` is the zip's name in messages."""
    dest = Path(dest)
    name = name or Path(source).name
    size = len(source) if isinstance(source, bytes) else os.path.getsize(source)
    with _open(source, name) as archive:
        infos = archive.infolist()
        _check_caps(name, infos, max_entries, max_total_bytes)
        ratio_cap, declared = max(MAX_RATIO * size, RATIO_FLOOR), sum(i.file_size for i in infos)
        # Only a zip over the ratio pays for reading its entries' headers.
        honest = [_image_bytes(archive, i) for i in infos] if declared > ratio_cap else [0] * len(infos)
        if sum(max(0, i.file_size - h) for i, h in zip(infos, honest)) > ratio_cap:
            raise _bomb(name, size, declared)
        if dest.exists() and any(dest.iterdir()):
            raise TLError(f"Cannot unpack {name} into {dest}: that folder is not empty.")
        tmp = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            room = int(free_bytes(dest.parent) * DISK_SHARE)
            if sum(i.file_size for i in infos) > room:
                raise disk_full(dest.parent)
            # Unpack beside dest and rename at the end, so dest is either complete or absent.
            tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
            _write_entries(archive, tmp, honest, [
                (room, lambda _: disk_full(dest.parent)),
                (max_total_bytes, lambda _: TLError(f"{name} unpacks to more than {_human(max_total_bytes)}, "
                                                    "the limit. Split it into smaller zips."))],
                (ratio_cap, lambda n: _bomb(name, size, n)))
            os.replace(tmp, dest)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            if is_disk_full(err):
                raise disk_full(dest.parent) from err
            # strerror only: the full error names the workspace's temporary folder.
            detail = err.strerror if isinstance(err, OSError) and err.strerror else "its contents do not add up"
            raise TLError(f"{name} could not be unpacked ({detail}); it may be damaged.") from err
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return dest


def unsafe_entries(source: ZipSource, name: str | None = None) -> list[tuple[str, str]]:
    """(entry name, reason) for every entry that ``extract_zip`` leaves out, reason completing a
    sentence that starts with the entry's name."""
    with _open(source, name or Path(source).name) as archive:
        return [(i.filename, reason) for i in archive.infolist()
                if not i.is_dir() and (reason := _unsafe(i))]


def _open(source: ZipSource, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise TLError(NOT_A_ZIP.format(name=name)) from err


def _bomb(name: str, size: int, unpacked: int) -> TLError:
    return TLError(BOMB.format(name=name, size=_human(size), unpacked=_human(unpacked)))


def _check_caps(name: str, infos: list[zipfile.ZipInfo], max_entries: int, max_total_bytes: int) -> None:
    """Refuse a zip whose declared contents are over the caps, or locked, before writing anything."""
    if len(infos) > max_entries:
        raise TLError(f"{name} holds {len(infos):,} entries; the limit is {max_entries:,}. "
                      "Split it into smaller zips.")
    if all(i.is_dir() for i in infos):
        raise TLError(EMPTY_ZIP.format(name=name))
    declared = sum(i.file_size for i in infos)
    if declared > max_total_bytes:
        raise TLError(f"{name} would unpack to {_human(declared)}; the limit is {_human(max_total_bytes)}. "
                      "Split it into smaller zips.")
    if any(i.flag_bits & 0x1 for i in infos):  # bit 0: the entry is encrypted
        raise TLError(PASSWORD.format(name=name))


def _write_entries(archive: zipfile.ZipFile, root: Path, honest: list[int], caps: list[tuple[int, Cap]],
                   bomb: tuple[int, Cap]) -> None:
    """Stream every safe file entry into ``root``, counting the bytes actually written; passing one
    of ``caps`` raises its error, and so does passing ``bomb``'s cap with the bytes written beyond
    each entry's ``honest`` size (its declared image's, in the order of the zip's entries)."""
    written, beyond, inside = 0, 0, root.resolve()
    for info, allowed in zip(archive.infolist(), honest):
        target = root / info.filename.replace("\\", "/")
        # Belt and braces: whatever form the name takes, the target must stay inside root.
        if info.is_dir() or _unsafe(info) or not target.resolve().is_relative_to(inside):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                allowed -= len(chunk)
                beyond += min(len(chunk), max(0, -allowed))
                # Headers can lie about sizes; these are the counts that cannot be fooled.
                for cap, error in caps:
                    if written > cap:
                        raise error(written)
                if beyond > bomb[0]:
                    raise bomb[1](written)
                out.write(chunk)


def _image_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The most bytes an entry may honestly hold as the image its first bytes declare: its pixels at
    16 bits a sample, plus a sixty-fourth for rows' padding and a PNG's blocks, plus 64 KB of header
    and palette. 0 for an entry that declares no such image, or one over the pixel limit."""
    try:
        with archive.open(info) as src:
            head = src.read(HEADER_BYTES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below is ours
            with Image.open(io.BytesIO(head), formats=DECLARING_FORMATS) as img:
                (width, height), bands = img.size, len(img.getbands())
    except Exception:  # not a header Pillow knows, or not one of these formats: nothing is declared
        return 0
    if width * height > MAX_PIXELS:
        return 0
    pixels = width * height * bands * 2
    return pixels + pixels // 64 + 2**16


def _unsafe(info: zipfile.ZipInfo) -> str:
    """Why an entry must not be written ("" when it is safe)."""
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return LINK
    name = info.filename.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return OUTSIDE
    if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        return LONG_NAME.format(limit=MAX_NAME_BYTES)
    return ""


def _human(n: int) -> str:
    """Bytes in the largest unit that keeps the number at least 1."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:,} bytes"
