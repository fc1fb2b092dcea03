"""The statistics a run's decision rests on (``tlcore.jobs.plan.DatasetStats``), measured by one
function and kept in the workspace by the dataset's content, the model, the image size, the seed
and the split, so the Strategy page, the Train page, the command line and the worker all decide
from the same numbers; and what this computer has observed (``Observations``)."""

from __future__ import annotations

import hashlib
import json
import logging

from tlcore.atomic import atomic_write_json
from tlcore.config import FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.data.dataset import assign_splits, check_trainable, load_source
from tlcore.data.images import decode_many
from tlcore.jobs import timings
from tlcore.jobs.plan import DatasetStats, Observations
from tlcore.models import ensemble
from tlcore.models.bundle import read_bundle_meta
from tlcore.rundir import RunDir
from tlcore.training.inputs import image_size_for
from tlcore.models.catalog import get_spec
from tlcore.training.recommend import image_kind, natural_sample, sample_naturalness
from tlcore.training.reporter import MemoryReporter
from tlcore.training.text_inputs import is_text_run, split_texts
from tlcore.workspace import datasets_dir, workspace_dir

VERSION = 1
_log = logging.getLogger(__name__)


def stats_dir():
    """Where measured statistics are kept, one file per request's key."""
    return workspace_dir() / "stats"


def trained_model(request: TrainConfig) -> str:
    """The catalog model a run of ``request`` trains: its own, or the earlier run's it continues."""
    return read_bundle_meta(RunDir(request.init_from).bundle.folder)["model"] if request.init_from else request.model


def dataset_stats(request: TrainConfig, device: str) -> DatasetStats:
    """The statistics of ``request``'s images for a run on ``device`` ("cpu" or "cuda"): its split
    (a TLError with what to fix when it cannot train), and the pretrained model's confidence and the
    kind of images on the run's sample at the run's size, measured once and then read back. Texts
    have no confidence of an ImageNet model to measure: their kind is "text"."""
    if is_text_run(request):
        return _text_stats(request)
    ds = load_source(request.data, datasets_dir())
    split = assign_splits(ds, request.val_fraction, request.seed)
    check_trainable(split)
    extra = load_source(request.test_data, datasets_dir()) if request.test_data else None
    model, size = trained_model(request), image_size_for(request, device)
    labelled = {c: split.counts("train")[c] + split.counts("val")[c] for c in sorted(split.classes)}
    counted = dict(model=model, labelled=labelled, val=len(split.subset("val")),
                   test=len(split.subset("test")) + (len(extra.items) if extra else 0),
                   given_val=any(i.split == "val" for i in ds.items), image_size=size)
    key = json.dumps([VERSION, ds.id, extra.id if extra else "", request.weights, request.seed, counted],
                     sort_keys=True)
    path = stats_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"
    try:
        kept = json.loads(path.read_text())
        return DatasetStats(**counted, naturalness=kept["naturalness"], kind=kept["kind"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sample, _ = decode_many(natural_sample([i.path for i in split.items if i.split != "test"], request.seed), size)
    natural = None if request.init_from else sample_naturalness(model, request.weights, sample, size)
    stats = DatasetStats(**counted, naturalness=None if natural is None else round(natural, 4),
                         kind=image_kind(sample))
    try:
        atomic_write_json(path, {"naturalness": stats.naturalness, "kind": stats.kind})
    except OSError as e:  # keeping them only saves measuring again
        _log.warning("Could not keep the images' statistics: %s", e)
    return stats


def _text_stats(request: TrainConfig) -> DatasetStats:
    """``dataset_stats`` of a table or folders of texts: their split, counted."""
    split, _, given_val = split_texts(request, MemoryReporter())
    model = trained_model(request)
    labelled = {c: split.counts("train")[c] + split.counts("val")[c] for c in sorted(split.classes)}
    return DatasetStats(model=model, labelled=labelled, val=len(split.subset("val")), test=len(split.subset("test")),
                        given_val=given_val, image_size=get_spec(model).image_size, naturalness=None, kind="text")


def observe(model: str, size: int) -> Observations:
    """This computer's earlier runs' times, whether the most accurate model can be made here, and
    the recipes whose ONNX model is kept for ``model`` at ``size``."""
    from tlcore.training.embed import embedder_key, kept_graph

    kept = tuple(r for r in (FASTEST, MOST_ACCURATE) if kept_graph(embedder_key(r, model, size)).exists())
    return Observations(timings.observations(), ensemble.ready(), kept)
