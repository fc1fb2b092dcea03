"""Datasets: a folder or zip of class folders, turned into a validated manifest.

Accepted layouts: ``root/<class>/<image>`` or ``root/{train,val,test}/<class>/<image>``
(split names case-insensitive; ``valid``/``validation`` mean val). Wrapper folders (a
zip's single top folder), hidden files and OS clutter (``__MACOSX``, ``Thumbs.db``) are
looked through, and links to folders are followed (``tlcore.data.folders``). Every file is
decoded once to prove it is usable; the ones that are not are kept in ``skipped`` with a
plain-language reason instead of failing the whole scan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tlcore.data.archive import extract_zip, unsafe_entries
from tlcore.atomic import atomic_write_json
from tlcore.errors import TLError
from tlcore.data.folders import subfolders, visible, walk
from tlcore.data.images import MAX_PIXELS, ImageProblem, check_image, run_parallel
from tlcore.data.blank import blank_tip, find_blank
from tlcore.data.leakage import copies_tip, find_copies, plural
from tlcore.data.names import class_name, normal, refuse_case_twins
from tlcore.workspace import workspace_dir

SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
FEW_IMAGES = 20  # below this per class, transfer learning results get noticeably worse
MAX_IMBALANCE = 3.0
SMALL_SIDE = 64
_SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
NOT_IN_CLASS = "is not inside a class folder"
NOT_IN_SPLIT = "is not inside a train, val or test folder"
READ_ALREADY = "leads to a folder that was already read, so its images were not counted twice"
DAMAGED_DATASET = "The saved dataset in {where} is damaged; import or scan the images again."
ONE_CLASS = ("Only one class ('{name}') was found; at least two are needed to train a classifier. Add a folder of "
             "images for each other class next to it.{note}")
TOO_FEW = ("Every class needs at least 2 images (one to learn from, one to check with); these have fewer: "
           "{classes}.{note}")
NO_IMAGES = ("No usable images were found in {where}. Put images in one folder per class, e.g. cats/1.jpg, "
             "dogs/2.jpg.{note}")
_log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Item:
    """One usable image: where it is, its class, its split ("" until assigned), hash and oriented size."""

    path: str
    label: str
    split: str
    sha256: str
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.split not in ("", *SPLITS):
            raise ValueError(f"unknown split {self.split!r}")


@dataclass(frozen=True)
class Skipped:
    """A file that was left out, and why (``reason`` follows the file name in a sentence)."""

    path: str
    reason: str


@dataclass
class Dataset:
    """A labelled image collection; ``id`` depends only on its (label, split, content hash) triples."""

    id: str
    name: str
    root: str
    classes: list[str]
    items: list[Item]
    skipped: list[Skipped]

    @classmethod
    def create(cls, name: str, root: str | os.PathLike, items: Iterable[Item],
               skipped: Iterable[Skipped] = (), classes: Iterable[str] = ()) -> Dataset:
        """Build a dataset, deriving its sorted classes and its content id."""
        items = list(items)
        triples = sorted((i.label, i.split, i.sha256) for i in items)
        digest = hashlib.sha256(json.dumps(triples).encode()).hexdigest()[:16]
        labels = sorted(set(classes) | {i.label for i in items})
        return cls(digest, name, str(root), labels, items, list(skipped))

    def with_items(self, items: Iterable[Item]) -> Dataset:
        """The same dataset (name, root, classes, skipped files) holding other items."""
        return Dataset.create(self.name, self.root, items, self.skipped, self.classes)

    def to_json(self) -> dict:
        """A JSON-safe dict; paths under ``root`` are stored relative so the folder can move."""
        root = Path(self.root)
        return {
            "version": 1, "id": self.id, "name": self.name, "root": self.root, "classes": self.classes,
            "items": [{**asdict(i), "path": _rel(i.path, root)} for i in self.items],
            "skipped": [{**asdict(s), "path": _rel(s.path, root)} for s in self.skipped],
        }

    @classmethod
    def from_json(cls, data: dict) -> Dataset:
        """Inverse of ``to_json``; unknown or missing keys are an error."""
        expected = {"version", "id", "name", "root", "classes", "items", "skipped"}
        if set(data) != expected or data["version"] != 1:
            raise ValueError(f"expected keys {sorted(expected)} at version 1, got {sorted(data)}")
        root = Path(data["root"])
        items = [Item(**{**d, "path": str(root / d["path"])}) for d in data["items"]]
        skipped = [Skipped(**{**d, "path": str(root / d["path"])}) for d in data["skipped"]]
        return cls.create(data["name"], root, items, skipped, data["classes"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the manifest atomically (a folder means ``folder/manifest.json``); return its path."""
        target = Path(path) / MANIFEST if Path(path).is_dir() else Path(path)
        atomic_write_json(target, self.to_json())
        return target

    @classmethod
    def load(cls, path: str | os.PathLike) -> Dataset:
        """Read a manifest written by ``save`` (a folder means ``folder/manifest.json``)."""
        source = Path(path) / MANIFEST if Path(path).is_dir() else Path(path)
        try:
            return cls.from_json(json.loads(source.read_text(encoding="utf-8")))
        except FileNotFoundError as err:
            raise TLError(f"There is no saved dataset in {_shown(source.parent)}.") from err
        except (ValueError, KeyError, TypeError) as err:
            raise TLError(DAMAGED_DATASET.format(where=_shown(source.parent))) from err

    def counts(self, split: str | None = None) -> dict[str, int]:
        """Images per class (every class listed, zeros included), in one split or in all."""
        found = Counter(i.label for i in self.items if split is None or i.split == split)
        return {c: found[c] for c in self.classes}

    def subset(self, split: str) -> list[Item]:
        """The items of one split."""
        return [i for i in self.items if i.split == split]

    def duplicates(self) -> list[list[Item]]:
        """Groups of two or more items with identical file contents."""
        groups: dict[str, list[Item]] = defaultdict(list)
        for item in self.items:
            groups[item.sha256].append(item)
        return [g for g in groups.values() if len(g) > 1]


def scan_folder(root: str | os.PathLike, max_pixels: int = MAX_PIXELS,
                progress: Progress | None = None) -> Dataset:
    """Find, validate and hash every image under ``root`` (either layout); problems go to ``skipped``."""
    given = Path(root).expanduser().resolve()
    if not given.is_dir():
        raise TLError(f"The folder {given} does not exist.")
    top = _unwrap(given)
    split_layout = any(_SPLIT_NAMES.get(_key(d)) and subfolders(d) for d in subfolders(top))
    classes = _class_folders(top, split_layout)  # before any image is decoded: a bad name stops at once
    placed: list[tuple[Path, str, str]] = []
    repeated: list[Path] = []
    skipped: list[Skipped] = []
    for path in walk(top, repeated):
        where = _place(path.relative_to(top).parts, split_layout)
        if isinstance(where, str):
            skipped.append(Skipped(str(path), where))
        else:
            placed.append((path, *where))
    skipped += [Skipped(str(link), READ_ALREADY) for link in repeated]
    results = run_parallel(lambda p: _inspect(p[0], max_pixels), placed, progress=progress)
    items = []
    for (path, label, split), result in zip(placed, results):
        if isinstance(result, ImageProblem):
            skipped.append(Skipped(str(path), result.reason))
        else:
            width, height, digest = result
            items.append(Item(str(path), label, split, digest, width, height))
    return Dataset.create(given.name, top, items, skipped, classes)


def _inspect(path: Path, max_pixels: int) -> tuple[int, int, str]:
    """Decode (to prove the file is usable) and hash one image."""
    width, height = check_image(path, max_pixels)
    with open(path, "rb") as f:
        return width, height, hashlib.file_digest(f, "sha256").hexdigest()


def _key(path: Path) -> str:
    return path.name.strip().lower()


def _unwrap(root: Path) -> Path:
    """Descend through lone wrapper folders; stop at a split folder or a lone class folder of images."""
    while True:
        entries = visible(root)
        if (len(entries) != 1 or not entries[0].is_dir() or _key(entries[0]) in _SPLIT_NAMES
                or not subfolders(entries[0])):
            return root
        root = entries[0]


def _place(parts: tuple[str, ...], split_layout: bool) -> tuple[str, str] | str:
    """(label, split) for a file's relative path, or the reason it does not fit the layout."""
    folders, split = list(parts[:-1]), ""
    if split_layout:
        if not folders:
            return NOT_IN_CLASS
        split = _SPLIT_NAMES.get(folders.pop(0).strip().lower(), "")
        if not split:
            return NOT_IN_SPLIT
    if len(folders) != 1 or not folders[0].strip():
        return NOT_IN_CLASS
    return normal(folders[0]), split


def _class_folders(top: Path, split_layout: bool) -> list[str]:
    """Class folder names as stored (tlcore.data.names; a control character or a twin in another case is
    a TLError), including empty ones, so a class with no usable image is still named."""
    parents = [d for d in subfolders(top) if _key(d) in _SPLIT_NAMES] if split_layout else [top]
    names = sorted({class_name(d.name, "class folder") for p in parents for d in subfolders(p) if d.name.strip()})
    refuse_case_twins(names, "class folders")
    return names


def load_source(path: str | os.PathLike, workspace_datasets_dir: str | os.PathLike,
                progress: Progress | None = None) -> Dataset:
    """Open a dataset from a folder, a saved manifest folder, or a zip (unpacked once into the workspace)."""
    source = Path(path).expanduser()
    if not source.exists():
        raise TLError(f"The path {source} does not exist. Check it, or choose the folder or zip again.")
    if source.is_dir():
        return Dataset.load(source) if (source / MANIFEST).is_file() else scan_folder(source, progress=progress)
    if source.suffix.lower() != ".zip":
        raise TLError(f"{source.name} is neither a folder nor a .zip file. Give a folder of class folders, "
                      "or a zip of one.")
    files = unpacked_once(source, workspace_datasets_dir)
    return with_zip_skipped(scan_folder(files, progress=progress), source, source.name, source.stem)


def unpacked_once(source: Path, workspace_datasets_dir: str | os.PathLike) -> Path:
    """The folder a zip is unpacked into, named by its content: unpacked the first time only."""
    with open(source, "rb") as f:
        key = hashlib.file_digest(f, "sha256").hexdigest()[:16]
    files = Path(workspace_datasets_dir) / key / "files"
    if not files.is_dir():
        extract_zip(source, files)
    return files


def with_zip_skipped(ds: Dataset, source: str | os.PathLike | bytes, zip_name: str, name: str) -> Dataset:
    """``ds`` named ``name``, listing the entries of its zip that were not unpacked and why."""
    left_out = [Skipped(entry, reason) for entry, reason in unsafe_entries(source, zip_name)]
    return replace(ds, name=name, skipped=left_out + ds.skipped)


def assign_splits(ds: Dataset, val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Give every item a split: keep a given val split, else carve val from each class (copies stay together)."""
    if not 0 < val_fraction < 1:
        raise TLError(f"The validation share must be between 0 and 1 (for example 0.2), not {val_fraction}.")
    if any(i.split == "val" for i in ds.items):
        return ds.with_items([replace(i, split=i.split or "train") for i in ds.items])
    # Group identical files so a copy can never sit in train while its twin is in val.
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in ds.items:
        if item.split != "test":
            groups[item.sha256].append(item)
    by_class: dict[str, list[str]] = defaultdict(list)
    for digest, group in sorted(groups.items()):
        by_class[group[0].label].append(digest)
    rng, val = random.Random(seed), set()
    for label in sorted(by_class):
        digests = by_class[label]
        rng.shuffle(digests)
        if len(digests) >= 2:
            val.update(digests[: min(len(digests) - 1, max(1, round(len(digests) * val_fraction)))])
    return ds.with_items([replace(i, split="test" if i.split == "test" else "val" if i.sha256 in val
                                  else "train") for i in ds.items])


def check_trainable(ds: Dataset) -> None:
    """Raise a TLError that says what to fix if ``ds`` cannot train a classifier."""
    note = _skipped_note(ds.skipped)
    if not ds.items:
        raise TLError(NO_IMAGES.format(where=_shown(Path(ds.root), ds.name), note=note))
    if len(ds.classes) < 2:
        raise TLError(ONE_CLASS.format(name=ds.classes[0], note=note))
    few = [f"'{c}' ({plural(n, 'image')})" for c, n in ds.counts().items() if n < 2]
    if few:
        raise TLError(TOO_FEW.format(classes=", ".join(few), note=note))


def _shown(folder: Path, name: str = "") -> str:
    """``folder`` as a user may see it: the workspace's own folders only by ``name`` (or last part)."""
    inside = folder.resolve().is_relative_to(workspace_dir().resolve())
    return f"'{name or folder.name}'" if inside else str(folder)


def _skipped_note(skipped: list[Skipped], shown: int = 3) -> str:
    """' 3 files were skipped: a.txt is not an image file; ...' (empty when nothing was skipped)."""
    if not skipped:
        return ""
    verb = "was" if len(skipped) == 1 else "were"
    examples = "; ".join(f"{Path(s.path).name} {s.reason}" for s in skipped[:shown])
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f" {plural(len(skipped), 'file')} {verb} skipped: {examples}{more}."


def audit(ds: Dataset) -> dict:
    """A JSON-safe health report: counts, skipped files, duplicates, held-out copies of training
    images, blank images, sizes, imbalance and advice."""
    root = Path(ds.root)
    totals = ds.counts()
    splits = [s for s in SPLITS if any(i.split == s for i in ds.items)]
    per_split = {s: ds.counts(s) for s in splits}
    lo, hi = min(totals.values(), default=0), max(totals.values(), default=0)
    imbalance = round(hi / lo, 2) if lo else None
    leaks, blank = find_copies(ds.items), find_blank(ds.items)
    return {
        "counts": {c: {"total": n, **{s: per_split[s][c] for s in splits}} for c, n in totals.items()},
        "total": len(ds.items),
        "skipped": [{"path": _rel(s.path, root), "reason": s.reason} for s in ds.skipped],
        "duplicates": [[_rel(i.path, root) for i in g] for g in ds.duplicates()],
        "copies_of_training": {split: [{"path": _rel(c.path, root), "of": _rel(c.of, root), "exact": c.exact}
                                       for c in found] for split, found in leaks.items()},
        "blank": [_rel(i.path, root) for i in blank],
        "root": str(root),  # what the paths above are relative to
        "sizes": _size_stats(ds.items),
        "imbalance": imbalance,
        "advice": [copies_tip(split, found) for split, found in leaks.items()]
        + ([blank_tip(len(blank))] if blank else []) + _advice(ds, totals, imbalance),
    }


def _size_stats(items: list[Item]) -> dict | None:
    if not items:
        return None
    # median_low: a size some image really has, and a whole number of pixels to show
    return {axis: {"min": min(v), "median": statistics.median_low(v), "max": max(v)}
            for axis, v in (("width", [i.width for i in items]), ("height", [i.height for i in items]))}


def _advice(ds: Dataset, totals: dict[str, int], imbalance: float | None) -> list[str]:
    """Plain-language sentences on what to fix, most important first."""
    few = {c: n for c, n in totals.items() if n < FEW_IMAGES}
    tips = [_few_images_tip(few)] if few else []
    if imbalance and imbalance > MAX_IMBALANCE:
        rare, common = min(totals, key=totals.get), max(totals, key=totals.get)
        tips.append(f"Class '{rare}' is rare ({totals[rare]} images against {totals[common]} for '{common}'), "
                    f"so the model will tend to ignore it. Add more '{rare}' images, or turn on class "
                    "weighting under Advanced.")
    groups = ds.duplicates()
    if groups:
        copies = sum(len(g) - 1 for g in groups)
        tips.append(f"{plural(copies, 'image')} {'is an exact copy' if copies == 1 else 'are exact copies'} "
                    "of another image; remove the copies, as they make scores look better than they are.")
        mixed = [sorted({i.label for i in g}) for g in groups if len({i.label for i in g}) > 1]
        if mixed:
            verb = "appears" if len(mixed) == 1 else "appear"
            tips.append(f"{plural(len(mixed), 'picture')} {verb} under more than one class (for example "
                        f"'{mixed[0][0]}' and '{mixed[0][1]}'); keep each picture in its right class only.")
    if ds.skipped:
        tips.append(_skipped_note(ds.skipped).strip())
    small = sum(1 for i in ds.items if min(i.width, i.height) < SMALL_SIDE)
    if small:
        tips.append(f"{plural(small, 'image')} {'is' if small == 1 else 'are'} smaller than {SMALL_SIDE} pixels "
                    "on a side; tiny images hold little detail, so use larger ones if you have them.")
    return tips


def _few_images_tip(few: dict[str, int], shown: int = 8) -> str:
    """One sentence for all classes with fewer than FEW_IMAGES images (not one per class)."""
    why = f"{FEW_IMAGES} or more per class gives much better results."
    if len(few) == 1:
        (c, n), = few.items()
        return f"Class '{c}' has {plural(n, 'image')}; {why}"
    counts = set(few.values())
    if len(counts) == 1:
        names = [f"'{c}'" for c in few]
        each = f"have {plural(counts.pop(), 'image')} each"
    else:
        names = [f"'{c}' ({plural(n, 'image')})" for c, n in few.items()]
        each = f"have fewer than {FEW_IMAGES} images"
    if len(names) > shown:
        names = names[:shown] + [f"{len(names) - shown} more"]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    return f"Classes {listed} {each}; {why}"


def _rel(path: str, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes, or unchanged if it lies elsewhere."""
    p = Path(path)
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else path
