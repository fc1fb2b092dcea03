"""Everything a text run trains on, loaded once: the labelled texts split and turned into token ids
(int64 [N, L], padded with the padding id: ``tlcore.models.text_net``), and the starting network.

A text run goes through the same engine as an image run: its token ids are the rows the loop,
the cached-features path and the scores index, and batches need no preparation but moving to the
device (no augmentation). The run folder keeps the split as for images (``dataset.json``: one item a
text, named by where it came from, with the sha256 of its text, so copies stay in one split), and
the texts themselves beside it (``texts.json``), so a resumed run reads exactly what it started with.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from tlcore.config import DEFAULT_MODEL, TrainConfig
from tlcore.data.dataset import Dataset, Item, assign_splits
from tlcore.data.leakage import plural
from tlcore.data.store import dataset_kind
from tlcore.data.texts import TABLE_SUFFIXES, TextData, TextItem, cut_note, read_texts
from tlcore.data.texts_store import open_texts, save_texts
from tlcore.errors import TLError
from tlcore.models.bundle import read_bundle_meta
from tlcore.models.bundle_paths import run_bundle
from tlcore.models.catalog import ModelSpec, get_spec
from tlcore.models.net import Net, build_backbone
from tlcore.models.text_net import text_tokenizer
from tlcore.training.progress import report
from tlcore.training.reporter import Reporter
from tlcore.workspace import datasets_dir

TEXT_MODEL = "all_minilm_l6_v2"  # the bundled sentence encoder: what a text run uses unless told
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_text_source(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds texts: a table (.csv, .tsv), or a folder or zip whose first example
    file is a ``.txt`` file rather than an image."""
    source = Path(path).expanduser()
    if source.is_dir() and dataset_kind(source) == "text":  # stored in the workspace (tlcore.data.texts_store)
        return True
    if source.is_dir():
        names = (p.name for p in source.rglob("*") if p.is_file())
    elif source.suffix.lower() == ".zip" and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as z:
            names = iter(z.namelist())
    else:
        return source.suffix.lower() in TABLE_SUFFIXES
    for name in names:
        suffix = Path(name).suffix.lower()
        if suffix == ".txt":
            return True
        if suffix in _IMAGE_SUFFIXES:
            return False
    return False


def for_data(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the model its data needs: the text model when the model was left at the default
    (an image model) and the data is texts (continuing an earlier text run: its model). Every run,
    plan, sweep and curve goes through it (``tlcore.jobs.train.create_run`` and ``plan_run``), so no
    caller has to choose."""
    if cfg.model != DEFAULT_MODEL or not cfg.data or not is_text_source(cfg.data):
        return cfg
    if not cfg.init_from:
        return cfg.with_(model=TEXT_MODEL)
    try:  # continuing an earlier text run: its model (a missing run is said by the run's own checks)
        earlier = read_bundle_meta(run_bundle(cfg.init_from).folder)["model"]
    except (TLError, OSError, KeyError, ValueError):
        return cfg
    return cfg.with_(model=earlier) if get_spec(earlier).kind == "text" else cfg


def is_text_run(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` trains on texts: its model (or the earlier run's it continues) reads texts, or its
    data is texts."""
    model = read_bundle_meta(run_bundle(cfg.init_from).folder)["model"] if cfg.init_from else cfg.model
    return get_spec(model).kind == "text" or is_text_source(cfg.data)


@dataclass
class TokenPrep:
    """A batch of token ids made ready for the network: moved to its device, nothing else (a text
    has no augmentation); called as the image preparation is, ``prep(x, train)``."""

    device: torch.device

    def __call__(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        return x.to(self.device, non_blocking=True)


def _key(data: TextData, item_origin: str, source: Path) -> str:
    """An example's name in the run: its file, or 'table.csv row N' (for lines typed into a stored
    dataset: '<its folder> typed')."""
    return item_origin if data.columns is None and os.path.isabs(item_origin) else f"{source} {item_origin}"


def _items(data: TextData, source: Path, split: str | None = None) -> tuple[list[Item], dict[str, str]]:
    items, texts = [], {}
    for t in data.items:
        key = _key(data, t.origin, source)
        if key in texts:  # lines typed into a class share their origin
            key = f"{key} {len(items) + 1}"
        sha = hashlib.sha256(t.text.encode("utf-8")).hexdigest()
        items.append(Item(key, t.label, split if split is not None else t.split, sha, 0, 0))
        texts[key] = t.text
    return items, texts


def _check_trainable(ds: Dataset) -> None:
    few = [f"'{c}' ({plural(n, 'text')})" for c, n in ds.counts().items() if n < 2]
    if few:
        raise TLError("Every class needs at least 2 texts (one to learn from, one to check with); these have "
                      f"fewer: {', '.join(few)}.")


def _texts_of(source: Path, cfg: TrainConfig) -> TextData:
    """The texts of a dataset stored in the workspace, or of a table, folder or zip."""
    if source.is_dir() and dataset_kind(source) == "text":
        return open_texts(source)
    return read_texts(source, datasets_dir(), cfg.text_column or None, cfg.label_column or None)


def _read(cfg: TrainConfig) -> tuple[TextData, Dataset, dict[str, str]]:
    source = Path(cfg.data).expanduser().resolve()
    data = _texts_of(source, cfg)
    items, texts = _items(data, source)
    if cfg.test_data:
        test_source = Path(cfg.test_data).expanduser().resolve()
        test = _texts_of(test_source, cfg)
        unknown = sorted(set(test.classes) - set(data.classes))
        if unknown:
            raise TLError(f"The test texts have labels the model is not trained on: {', '.join(unknown)}. "
                          "Use the same labels as in the training texts.")
        test_items, test_texts = _items(test, test_source, "test")
        items, texts = items + test_items, texts | test_texts
    root = os.path.commonpath([str(source if source.is_dir() else source.parent)]
                              + [os.path.dirname(i.path) for i in items if os.path.isabs(i.path)])
    return data, Dataset.create(data.name, root, items, classes=data.classes), texts


def read_split(cfg: TrainConfig) -> tuple[Dataset, dict[str, str]]:
    """The texts of ``cfg.data`` split as a run splits them, and each item's text by its name: what a
    learning curve shares between its points (``save_part``)."""
    ds, texts = _read(cfg)[1:]
    return assign_splits(ds, cfg.val_fraction, cfg.seed), texts


def save_part(part: Dataset, texts: dict[str, str], folder: Path) -> None:
    """``part`` of a split text dataset (``read_split``) stored in ``folder`` as a text dataset, each
    text in its split and named as before (the names are absolute: ``_key``)."""
    save_texts(TextData(part.name, part.classes, [TextItem(texts[i.path], i.label, i.split, i.path)
                                                   for i in part.items]), folder)


def split_texts(cfg: TrainConfig, reporter: Reporter) -> tuple[Dataset, dict[str, str], bool]:
    """The texts of ``cfg.data`` read, checked and split (each item's text by its path), and whether
    they came with their own validation texts; what reading left out is reported as warnings."""
    reporter.status("Reading the texts")
    data, ds, texts = _read(cfg)
    given_val = any(i.split == "val" for i in ds.items)
    ds = assign_splits(ds, cfg.val_fraction, cfg.seed)
    _check_trainable(ds)
    for note in data.notes:
        reporter.event("warning", message=note)
    return ds, texts, given_val


def _tokenized(spec: ModelSpec, splits: dict[str, list[Item]], texts: dict[str, str],
               classes: list[str]) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor, list[str]]], list[int]]:
    """Each split as (token ids, labels, names), all padded to one width (cross-validation joins
    the training and validation texts), and every text's length in tokens."""
    index, every = {c: i for i, c in enumerate(classes)}, [i for items in splits.values() for i in items]
    tokens = text_tokenizer(spec)([texts[i.path] for i in every])
    parts, start = {}, 0
    for split, items in splits.items():
        y = torch.tensor([index[i.label] for i in items], dtype=torch.long)
        parts[split] = (tokens.ids[start:start + len(items)], y, [i.path for i in items])
        start += len(items)
    return parts, tokens.lengths


@dataclass
class TextInputs:
    """What ``load_text_inputs`` loads, as ``tlcore.training.inputs.Inputs`` holds it: each split as
    (token ids, labels, names), the test split None when there are no test texts."""

    spec: ModelSpec
    classes: list[str]
    size: int
    parts: list[tuple[torch.Tensor, torch.Tensor, list[str]] | None]
    net: Net
    prep: TokenPrep
    given_val: bool


def load_text_inputs(ds: Dataset, texts: dict[str, str], given_val: bool, cfg: TrainConfig, device: torch.device,
                     reporter: Reporter, planned: Callable | None,
                     from_run: Callable[[Path, list[str]], Net]) -> TextInputs:
    """The split texts (``split_texts``) as token ids and the text network: pretrained, or the earlier
    text run's model with a head for these classes (``from_run(folder, classes)``)."""
    parent = read_bundle_meta(run_bundle(cfg.init_from).folder) if cfg.init_from else None
    spec = get_spec(parent["model"] if parent else cfg.model)
    if spec.kind != "text":
        raise TLError(f"{Path(cfg.data).name} holds texts, and {spec.title} reads images; choose a text model "
                      f"({TEXT_MODEL}) to train on texts.")
    if cfg.augment not in ("none", "auto"):
        raise TLError("Augmentation changes images; a text run uses none. Set augmentation to none or auto.")
    size = spec.image_size  # no image size: the catalog's, so the run records one and its kept graphs match
    classes, splits = ds.classes, {s: ds.subset(s) for s in ("train", "val", "test")}
    if planned:
        planned(ds, spec, size, len(splits["test"]), given_val)
    report(reporter.event, "decode", 0, 1)
    reporter.status("Reading the texts into tokens")
    parts, lengths = _tokenized(spec, splits, texts, classes)
    note = cut_note(lengths, spec.max_tokens)
    if note:
        reporter.event("warning", message=note)
    report(reporter.event, "decode", 1, 1)
    reporter.status("Loading the pretrained model")
    report(reporter.event, "load", 0, 1)
    if parent:
        net = from_run(Path(cfg.init_from), classes)
    else:
        net = Net(build_backbone(spec, cfg.weights)[0], spec.feature_dim, len(classes))
    report(reporter.event, "load", 1, 1)
    held = [parts["train"], parts["val"], parts["test"] if splits["test"] else None]
    return TextInputs(spec, classes, size, held, net.to(device),
                      TokenPrep(device), given_val)


def text_copies(dataset: Dataset, inputs, held: str) -> dict[str, int]:
    """``tlcore.training.leaks.scored_copies`` for texts: how many scored texts are, character for
    character, a training text (the sha256 of each text, kept in the dataset's items)."""
    sha = {i.path: i.sha256 for i in dataset.items}
    train = [sha[f] for f in inputs.train.files]
    if held == "cv":
        return {"cv": len(train) - len(set(train))}
    seen = set(train)
    scored = {"val": inputs.val} | ({"test": inputs.test} if inputs.test is not None else {})
    return {split: sum(sha[f] in seen for f in part.files) for split, part in scored.items()}
