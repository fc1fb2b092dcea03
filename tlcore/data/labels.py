"""Labels given to pool images, and the record of how each was made.

Confirming a pool image's class moves its file into the dataset, next to the class's other images,
and makes it an ordinary labelled image (in the manifest of a stored dataset; a plain folder's class
folder is its label). ``labels.jsonl`` (tlcore.data.pool's folder) keeps one line a label: the batch
it came in, the image (name, sha256, where it went), its class, how it was made ("person": a person
checked it; "bulk": accepted because the model was at least ``threshold`` sure, when that threshold
had ``precision`` on held-out labelled images), and when. Undo takes the last batch back: the files
return to the pool and the lines leave the record. Everything happens under the dataset's labelling
lock, so two tabs or processes labelling at once lose or double nothing: an image the other one
labelled first is no longer in the pool and is counted as already labelled.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tlcore.atomic import atomic_write_bytes
from tlcore.data.dataset import SPLITS, Item
from tlcore.data.leakage import plural
from tlcore.data.pool import POOL_FILE, Home, PoolItem, home, locked, pool_path, read_pool, write_pool
from tlcore.data.pool_texts import add_labelled, remove_labelled
from tlcore.data.store import class_folders, slug
from tlcore.errors import TLError

RECORD = "labels.jsonl"
HOW = ("person", "bulk")
POOL_GONE = ("The unlabelled pool of this dataset is gone (its files were deleted); add them to the pool again. "
             "The labels already given are kept.")  # images or texts: the same line
NO_SUCH_CLASS = ("The dataset has no class {unknown} (its classes are {classes}); add the class first, or fix the "
                 "name. Nothing was labelled.")
NOT_IN_POOL = ("{images} to label {are} not in the unlabelled pool: {shown}; check the names. Nothing was "
               "labelled.")  # are: 'is' or 'are'


def read_record(where: Home) -> list[dict]:
    """Every line of the label record, oldest first (a damaged line is left out)."""
    try:
        lines = (where.folder / RECORD).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and {"batch", "sha256", "class", "how"} <= set(entry):
            out.append(entry)
    return out


def _write_record(where: Home, entries: list[dict]) -> None:
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    atomic_write_bytes(where.folder / RECORD, text.encode())


def _placed(root: Path, items: list[Item], folder: str, pooled: PoolItem) -> tuple[Path, str]:
    """Where a newly labelled image goes (beside its class's images) and its split."""
    split = "train" if any(i.split in SPLITS for i in items) else ""
    target = root / split / folder if split else root / folder
    stem = slug(Path(pooled.name).stem, 40, "image")
    return target / f"{stem}-{pooled.sha256[:8]}{Path(pooled.file).suffix}", split


def confirm(data: str | os.PathLike, labels: Sequence[tuple[str, str]], how: str = "person",
            threshold: float | None = None, precision: float | None = None) -> dict:
    """Give pool images (by name) their classes, as one batch that ``undo`` can take back.

    Args:
        labels: (pool image name, class) pairs.
        how: "person" (checked) or "bulk" (accepted at ``threshold`` with the ``precision`` shown).
    Returns:
        labelled (how many now), already (labelled meanwhile by another tab: left as they were), batch,
        kind ("image" or "text").
    Raises:
        TLError: a class the dataset does not have, a name not in the pool, or the pool gone;
            nothing is labelled then.
    """
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}, not {how!r}")
    where = home(data)
    with locked(where):
        ds = where.dataset()
        unknown = sorted({c for _, c in labels} - set(ds.classes))
        if unknown:
            raise TLError(NO_SUCH_CLASS.format(unknown=', '.join(repr(c) for c in unknown),
                                               classes=', '.join(ds.classes)))
        pool, done = read_pool(where), {e["name"]: e for e in read_record(where)}
        by_name = {i.name: i for i in pool}
        missing = [n for n, _ in labels if n not in by_name and n not in done]
        if missing:
            if not (where.pool_dir / POOL_FILE).is_file():
                raise TLError(POOL_GONE)
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            shown = ", ".join(repr(n) for n in missing[:3]) + more
            raise TLError(NOT_IN_POOL.format(images=plural(len(missing), 'text' if where.text else 'image'),
                                             are='is' if len(missing) == 1 else 'are', shown=shown))
        wanted = [(by_name[n], c) for n, c in dict(labels).items() if n in by_name]
        if any(not pool_path(where, p).is_file() for p, _ in wanted):
            raise TLError(POOL_GONE)
        return _apply(where, ds, pool, wanted, how, threshold, precision, len(dict(labels)) - len(wanted))


def _apply(where: Home, ds, pool: list[PoolItem], wanted: list[tuple[PoolItem, str]], how: str,
           threshold: float | None, precision: float | None, already: int) -> dict:
    batch = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    folders = class_folders(ds.classes)
    entries, new_items = [], []
    if where.text:  # a text joins the dataset's list of texts, named as it was in the pool
        add_labelled(where.data, [(p.name, pool_path(where, p).read_text(encoding="utf-8"), c) for p, c in wanted])
    for pooled, label in wanted:
        if where.text:
            dest, split = pooled.name, ""
            pool_path(where, pooled).unlink()
        else:
            dest, split = _placed(Path(ds.root), ds.items, folders[label], pooled)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(pool_path(where, pooled), dest)
            new_items.append(Item(str(dest), label, split, pooled.sha256, pooled.width, pooled.height))
        entries.append({"batch": batch, "name": pooled.name, "file": pooled.file, "sha256": pooled.sha256,
                        "width": pooled.width, "height": pooled.height, "path": str(dest), "class": label,
                        "how": how, "threshold": threshold, "precision": precision, "when": when})
    if where.stored and new_items:
        ds.with_items(ds.items + new_items).save(where.data)
    gone = {p.sha256 for p, _ in wanted}
    write_pool(where, [i for i in pool if i.sha256 not in gone])
    _write_record(where, read_record(where) + entries)
    return {"labelled": len(entries), "already": already, "batch": batch, "kind": "text" if where.text else "image"}


def undo_last(data: str | os.PathLike) -> dict:
    """Take the last batch of labels back: its images return to the pool, its lines leave the record.

    Returns: undone (how many), batch, how."""
    where = home(data)
    with locked(where):
        record = read_record(where)
        if not record:
            raise TLError("There is nothing to undo: no labels were given to pool images here yet.")
        batch = record[-1]["batch"]
        taken = [e for e in record if e["batch"] == batch]
        pool = read_pool(where)
        back = _texts_back(where, taken) if where.text else []
        for e in taken if not where.text else []:
            source, target = Path(e["path"]), where.pool_dir / e["file"]
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                back.append(PoolItem(e["name"], e["file"], e["sha256"], e["width"], e["height"]))
        if where.stored and not where.text:
            ds = where.dataset()
            paths = {e["path"] for e in taken}
            ds.with_items(i for i in ds.items if i.path not in paths).save(where.data)
        have = {i.sha256 for i in pool}
        write_pool(where, pool + [i for i in back if i.sha256 not in have])
        _write_record(where, [e for e in record if e["batch"] != batch])
    return {"undone": len(taken), "batch": batch, "how": taken[-1]["how"]}


def _texts_back(where: Home, taken: list[dict]) -> list[PoolItem]:
    """Take a batch's texts out of the text dataset and write them back into the pool's files."""
    texts = remove_labelled(where.data, [(e["path"], e["sha256"]) for e in taken])
    back = []
    for e in taken:
        if e["sha256"] in texts:
            (where.pool_dir / e["file"]).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(where.pool_dir / e["file"], texts[e["sha256"]].encode("utf-8"))
            back.append(PoolItem(e["name"], e["file"], e["sha256"], e["width"], e["height"]))
    return back


def how_labelled(data: str | os.PathLike) -> dict[str, int]:
    """How the dataset's labelled images got their labels, for a run's record: counts of "person"
    (checked in the Label view or a reviewed CSV), "bulk" (accepted above a threshold) and
    "imported" (came in class folders)."""
    where = home(data)
    made = {e["sha256"]: e["how"] for e in read_record(where)}
    counts = Counter(made.get(i.sha256, "imported") for i in where.dataset().items)
    return {k: counts[k] for k in (*HOW, "imported")}


def labels_made(data: str | os.PathLike) -> dict[str, int] | None:
    """``how_labelled`` for a run's record, or None when the dataset has no label record (every
    label came with its image) or is not one the labelling knows (a table of texts)."""
    try:
        where = home(data)
    except TLError:
        return None
    return how_labelled(data) if (where.folder / RECORD).is_file() else None
