"""Run-time estimates before Start, on this computer, for a run's settings: the work a run will do
(``tlcore.training.timing.Work``) from its settings and image counts, and the times of this
workspace's earlier runs (``timings.json``: each finished run's measured parts next to their
typical seconds), which scale the typical costs to this computer."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection
from dataclasses import asdict

from tlcore.atomic import atomic_write_json
from tlcore.config import FASTEST, MOST_ACCURATE
from tlcore.models.catalog import ModelSpec, get_spec
from tlcore.rundir import RunDir
from tlcore.training.timing import PARTS, Estimate, Work, estimate, parts

VERSION = 1
KEPT_RUNS = 50
_log = logging.getLogger(__name__)


def timings_path():
    """The workspace's record of earlier runs' times."""
    from tlcore.workspace import workspace_dir

    return workspace_dir() / "timings.json"


def observations() -> list[dict]:
    """Earlier runs' measured and typical parts, oldest first ([] when none or unreadable)."""
    try:
        data = json.loads(timings_path().read_text())
    except (OSError, ValueError):
        return []
    if not (isinstance(data, dict) and data.get("version") == VERSION and isinstance(data.get("runs"), list)):
        return []
    return [r for r in data["runs"] if isinstance(r, dict)]


def gflops_at(spec: ModelSpec, size: int) -> float:
    """A network's computing per image at ``size`` pixels (GFLOPs grow with the image's area)."""
    return (spec.gflops or 1.0) * (size / spec.image_size) ** 2


def recipe_gflops(recipe: str, spec: ModelSpec, size: int) -> tuple[float, int]:
    """The computing per image of a recipe at ``size`` and how many networks it loads."""
    if recipe != MOST_ACCURATE:
        return gflops_at(spec, size), 1
    from tlcore.models.ensemble import MEMBERS

    return sum(gflops_at(get_spec(m.model), size) for m in MEMBERS), len(MEMBERS)


def _to_export(recipe: str, spec: ModelSpec, size: int, frozen: bool, pretrained: bool, device: str,
               kept: Collection[str] | None) -> float:
    """The computing of the network(s) whose ONNX model a frozen run on a processor exports before its
    features, unless kept (``kept``: the recipes whose model is kept at this size; None: look)."""
    if device != "cpu" or not pretrained or not frozen:
        return 0.0
    if kept is None:
        from tlcore.training.embed import embedder_key, kept_graph

        kept = [r for r in (recipe,) if kept_graph(embedder_key(r, spec.name, size)).exists()]
    return 0.0 if recipe in kept else recipe_gflops(recipe, spec, size)[0]


def work_for(*, recipe: str, spec: ModelSpec, size: int, stages: int, frozen: bool, epochs: int, augment: str,
             labelled: int, val: int, test: int, device: str, pretrained: bool,
             kept: Collection[str] | None = None) -> Work:
    """The work of a run with these settings and image counts (``val``: validation images of ``labelled``;
    ``kept``: the recipes whose ONNX model is kept at this model and size, None to look)."""
    from tlcore.training.engine import augmented_views

    gflops, networks = recipe_gflops(recipe, spec, size)
    views = 1
    if frozen and augment != "none":
        dim = spec.feature_dim * networks
        views = augmented_views(epochs, max(1, labelled - val), dim)
    trained = 0.0 if frozen else max(stages, 1) / len(spec.stages)
    return Work(device=device, recipe=recipe, gflops=round(gflops, 4), networks=networks, labelled=labelled,
                test=test, trained=trained, epochs=epochs, views=views, val=val,
                export_gflops=round(_to_export(recipe, spec, size, frozen, pretrained, device, kept), 4))


def estimate_work(work: Work, runs: list[dict] | None = None) -> Estimate:
    """``work``'s estimate from this workspace's earlier runs (read now unless given)."""
    return estimate(work, observations() if runs is None else runs)


def with_typical(work: Work, est: Estimate) -> dict:
    """An estimate as a run records it, with the work and its typical parts (which the finished run's
    measured parts are later compared with)."""
    return {**est.to_json(), "work": asdict(work), "typical": {k: round(v, 3) for k, v in parts(work).items()}}


def record(run: RunDir, started: float) -> None:
    """Add a finished run's measured parts to the workspace's timings (nothing for a resumed run,
    or one whose recommendation carries no estimate); a write that fails is only logged."""
    record = run.record()
    rec = record.recommendation or {}
    planned = rec.get("estimates", {}).get(record.config.recipe) if isinstance(rec.get("estimates"), dict) else None
    if not isinstance(planned, dict) or "typical" not in planned or run.events("resumed"):
        return
    embed = sum(max(0.0, e.get("seconds", 0.0) - e.get("setup", 0.0)) for e in run.events("features"))
    steps = sum(e.get("seconds", 0.0) for e in run.events("epoch") if not e.get("fast_path", True))
    measured = {"embed": embed, "steps": steps, "rest": max(0.0, time.time() - started - embed - steps)}
    row = {"device": planned["work"]["device"], "recipe": planned["work"]["recipe"], "time": round(time.time(), 1),
           **{k: round(measured[k], 3) for k in PARTS},
           **{f"typical_{k}": planned["typical"][k] for k in PARTS}}
    try:
        atomic_write_json(timings_path(), {"version": VERSION, "runs": (observations() + [row])[-KEPT_RUNS:]})
    except OSError as e:  # the estimate only loses this run's measurement
        _log.warning("Could not keep the run's times for later estimates: %s", e)
