"""The unlabelled pool kept with a dataset: images without a class yet, waiting to be labelled.

Where it lives (``home``): a stored dataset (a folder holding ``manifest.json``) keeps it in its own
folder; a plain folder of class folders (or a zip of one, as the command line gives it) keeps it in
the workspace under ``labelling/<hash of the folder's path>``, and its class folders stay the truth
about what is labelled. In that folder:

    pool/pool.json   the pool's images: the name shown (as given), file, sha256, size, skipped
    pool/files/      the images themselves, named by their contents
    labels.jsonl     how each label was made (tlcore.data.labels)
    labelling.lock   held while the pool or the labels change (two tabs or processes at once)

Images are added audited: unreadable files, repeats (twice in one upload, or already in the pool)
and copies of labelled images (the same file, or the same picture resized or saved again:
tlcore.data.leakage) are left out and counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tlcore import lockfile
from tlcore.atomic import atomic_write_json, read_json
from tlcore.data.archive import extract_zip
from tlcore.data.dataset import MANIFEST, Dataset, scan_folder, unpacked_once
from tlcore.data.dataset import _inspect as inspect
from tlcore.data.fingerprint import fingerprints
from tlcore.data.folders import walk
from tlcore.data.images import MAX_PIXELS, ImageProblem, run_parallel
from tlcore.data.leakage import matches, plural
from tlcore.data.pool_texts import labelled_texts, text_sha, unlabelled_rows
from tlcore.data.store import dataset_kind
from tlcore.data.texts import TABLE_SUFFIXES
from tlcore.errors import TLError
from tlcore.workspace import datasets_dir, workspace_dir

POOL, POOL_FILE, LOCK = "pool", "pool.json", "labelling.lock"
NO_POOL_IMAGES = "No images were found in {label}; nothing was added to the unlabelled pool."
ALL_COPIES = ("All {images} in {label} {copies} of {kind}s already labelled; nothing was added to the unlabelled "
              "pool.")  # copies: 'is a copy' or 'are copies'; kind: 'image' or 'text'
TABLE_NOT_STORED = ("Labelling texts needs them stored in the studio: import {name} on the Data page and label the "
                    "stored dataset (or a run trained on it).")
LOCK_WAIT_S = 30.0  # another tab's save takes well under a second; past this something is stuck
Progress = Callable[[int, int], None] | None
Source = str | os.PathLike | Sequence[str | os.PathLike] | Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class PoolItem:
    """One unlabelled image: the name the user knows it by, its file in pool/files, contents and size."""

    name: str
    file: str
    sha256: str
    width: int
    height: int
    skipped: bool = False


@dataclass(frozen=True)
class Home:
    """Where a dataset's pool and label records live, and how to read the dataset's labelled images."""

    folder: Path  # the pool, records and lock
    data: Path  # the stored dataset folder (stored) or the plain folder of class folders
    stored: bool

    @property
    def text(self) -> bool:
        """Whether the dataset is a stored text dataset (its pool holds texts)."""
        return self.stored and dataset_kind(self.data) == "text"

    def dataset(self) -> Dataset:
        """The labelled images (or texts) now: the manifest, or a fresh scan of the class folders."""
        if self.text:
            return labelled_texts(self.data)
        return Dataset.load(self.data) if self.stored else scan_folder(self.data)

    @property
    def pool_dir(self) -> Path:
        return self.folder / POOL


def home(data: str | os.PathLike) -> Home:
    """Where the pool of the dataset ``data`` (a stored dataset folder, a folder of class folders,
    or a zip of one) lives."""
    source = Path(data).expanduser()
    if source.is_file() and source.suffix.lower() == ".zip":
        source = unpacked_once(source, datasets_dir())
    if source.is_file() and source.suffix.lower() in TABLE_SUFFIXES:
        raise TLError(TABLE_NOT_STORED.format(name=source.name))
    if not source.is_dir():
        raise TLError(f"The dataset {source} does not exist; give the folder the run was trained on.")
    if (source / MANIFEST).is_file():
        return Home(source, source, True)
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return Home(workspace_dir() / "labelling" / key, source.resolve(), False)


@contextlib.contextmanager
def locked(where: Home) -> Iterator[None]:
    """Hold the dataset's labelling lock: one tab or process changes its pool and labels at a time."""
    where.folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + LOCK_WAIT_S
    while (handle := lockfile.take(where.folder / LOCK)) is None:
        if time.monotonic() > deadline:
            raise TLError("Another tab or command is still saving labels for this dataset; try again in a "
                          "minute. Nothing was changed.")
        time.sleep(0.05)
    try:
        yield
    finally:
        handle.close()


def read_pool(where: Home) -> list[PoolItem]:
    """The pool's images, oldest first ([] when it was never made)."""
    data = read_json(where.pool_dir / POOL_FILE, {"items": []})
    try:
        return [PoolItem(**d) for d in data["items"]]
    except (KeyError, TypeError) as err:
        raise TLError("The unlabelled pool's list is damaged; add the images to the pool again.") from err


def write_pool(where: Home, items: list[PoolItem]) -> None:
    """Save the pool's list (atomically)."""
    where.pool_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(where.pool_dir / POOL_FILE, {"version": 1, "items": [asdict(i) for i in items]})


def pool_path(where: Home, item: PoolItem) -> Path:
    """The pool image's file."""
    return where.pool_dir / item.file


@dataclass
class _Candidate:
    name: str
    path: Path
    sha256: str = ""
    size: tuple[int, int] = (0, 0)


def _gather(source: Source, staging: Path, label: str) -> list[_Candidate]:
    """The files of ``source`` as candidates (a zip is unpacked into ``staging``; bytes are written there)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_file() and path.suffix.lower() == ".zip":
            path = extract_zip(path, staging / "zip", name=path.name)
        elif not path.is_dir():
            raise TLError(f"{label} is neither a folder nor a .zip file; give a folder or zip of images.")
        return [_Candidate(p.relative_to(path).as_posix(), p) for p in walk(path, [])]
    out = []
    for n, entry in enumerate(source):
        if isinstance(entry, tuple):
            name, data = entry
            target = staging / f"{n:06d}"
            target.write_bytes(data)
            out.append(_Candidate(Path(name).name or f"image {n + 1}", target))
        else:
            out.append(_Candidate(Path(entry).name, Path(entry)))
    return out


def _copies_of_labelled(ds: Dataset, fresh: list[_Candidate]) -> set[str]:
    """The sha256 of the candidates that copy a labelled image (same file, or same picture)."""
    if not ds.items or not fresh:
        return set()
    prints = fingerprints([(i.path, i.sha256) for i in ds.items] + [(str(c.path), c.sha256) for c in fresh])
    labelled = [(i.sha256, prints.get(i.sha256), (i.width, i.height)) for i in ds.items]
    asked = [(c.sha256, prints.get(c.sha256), c.size) for c in fresh]
    return {fresh[s].sha256 for s, _, _ in matches(labelled, asked)}


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``... when the pool already shows that name."""
    stem, n, out = name, 2, name
    while out in taken:
        out, n = f"{stem} ({n})", n + 1
    return out


def add_to_pool(data: str | os.PathLike, source: Source, label: str = "", progress: Progress = None) -> dict:
    """Add unlabelled images to the dataset's pool: a folder or zip without class folders (every
    image at any depth), image files, or (name, bytes) pairs (an upload, a camera burst).

    Returns (JSON-safe): added, pool (images in it now), copies (left out: they copy labelled
    images), repeated (already in the pool, or twice in this upload), skipped [(name, reason)]
    (unreadable), kind ("image" or "text"), and message, one line saying all that.
    Raises:
        TLError: nothing to add (no file, no readable image, or only copies of labelled images).
    """
    where = home(data)
    label = label or (Path(source).name if isinstance(source, (str, os.PathLike)) else "the upload")
    where.pool_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=where.pool_dir, prefix=".incoming-"))
    try:
        return _add(where, _gather(source, staging, label), label, progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _add(where: Home, found: list[_Candidate], label: str, progress: Progress) -> dict:
    if not found:
        raise TLError(NO_POOL_IMAGES.format(label=label))
    skipped, readable = [], []
    for c, result in zip(found, run_parallel(lambda c: inspect(c.path, MAX_PIXELS), found, progress=progress)):
        if isinstance(result, ImageProblem):
            skipped.append((c.name, result.reason))
        else:
            c.size, c.sha256 = (result[0], result[1]), result[2]
            readable.append(c)
    if not readable:
        first = f"{skipped[0][0]} {skipped[0][1]}"
        raise TLError(f"None of the {plural(len(found), 'file')} in {label} could be read as an image ({first}); "
                      "nothing was added to the unlabelled pool.")
    return _store(where, readable, _copies_of_labelled(where.dataset(), readable), label, skipped)


def _store(where: Home, readable: list[_Candidate], copies: set[str], label: str, skipped: list) -> dict:
    """Copy the candidates into the pool (under its lock), leaving out ``copies`` (sha256 of copies of
    labelled examples) and repeats; returns the report ``add_to_pool`` describes."""
    with locked(where):
        pool = read_pool(where)
        have, names = {i.sha256 for i in pool}, {i.name for i in pool}
        added, repeated = [], 0
        for c in readable:
            if c.sha256 in copies:
                continue
            if c.sha256 in have:
                repeated += 1
                continue
            have.add(c.sha256)
            file = f"files/{c.sha256[:24]}{'.txt' if where.text else Path(c.name).suffix.lower()[:8]}"
            (where.pool_dir / "files").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(c.path, where.pool_dir / file)
            added.append(PoolItem(_unique(c.name, names), file, c.sha256, *c.size))
            names.add(added[-1].name)
        if added:
            write_pool(where, pool + added)
    copied, kind = sum(c.sha256 in copies for c in readable), "text" if where.text else "image"
    if not added and not repeated and copied == len(readable):
        raise TLError(ALL_COPIES.format(images=plural(copied, kind), label=label, kind=kind,
                                        copies='is a copy' if copied == 1 else 'are copies'))
    report = {"added": len(added), "pool": len(pool) + len(added), "copies": copied, "repeated": repeated,
              "skipped": skipped, "kind": kind}
    return report | {"message": _summary(report, kind)}


def _summary(r: dict, kind: str = "image") -> str:
    """"Added 40 images to the unlabelled pool (now 52); left out: 3 copies of labelled images, ..."."""
    out = [f"{r['copies']} {'copy' if r['copies'] == 1 else 'copies'} of labelled {kind}s"] if r["copies"] else []
    out += [f"{r['repeated']} already in the pool"] if r["repeated"] else []
    out += [f"{plural(len(r['skipped']), 'file')} that could not be read"] if r["skipped"] else []
    left = f"; left out: {', '.join(out)}" if out else ""
    return f"Added {plural(r['added'], kind)} to the unlabelled pool (now {r['pool']}){left}."


def add_texts_to_pool(data: str | os.PathLike, source: str | os.PathLike | tuple[str, bytes],
                      label: str = "") -> dict:
    """Add the texts of a CSV or TSV without a label column (a file, or an upload's (name, bytes)) to
    the pool of the stored text dataset ``data``; texts already labelled or pooled are left out and
    counted. Returns what ``add_to_pool`` returns."""
    where = home(data)
    if not where.text:
        raise TLError("This dataset holds images; add images to its unlabelled pool, not a table of texts.")
    where.pool_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=where.pool_dir, prefix=".incoming-"))
    try:
        if isinstance(source, tuple):
            (staging / "upload").mkdir()
            path = staging / "upload" / (Path(source[0]).name or "texts.csv")
            path.write_bytes(source[1])
        else:
            path = Path(source).expanduser()
            if not path.is_file():
                raise TLError(f"The file {path.name} does not exist; give a CSV of texts.")
        label = label or path.name
        found = []
        for n, (name, text) in enumerate(unlabelled_rows(path, label)):
            found.append(_Candidate(name, staging / f"{n:06d}.txt", text_sha(text)))
            found[-1].path.write_text(text, encoding="utf-8")
        labelled = {i.sha256 for i in where.dataset().items}
        return _store(where, found, {c.sha256 for c in found} & labelled, label, [])
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def set_skipped(data: str | os.PathLike, names: Sequence[str], skipped: bool = True) -> int:
    """Mark pool images as skipped (asked about last) or not; returns how many changed."""
    where = home(data)
    wanted = set(names)
    with locked(where):
        pool = read_pool(where)
        changed = [PoolItem(**{**asdict(i), "skipped": skipped}) if i.name in wanted else i for i in pool]
        count = sum(a != b for a, b in zip(pool, changed))
        if count:
            write_pool(where, changed)
    return count
