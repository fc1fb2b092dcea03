"""Running a training job on a run directory: the worker's whole life, start to bundle. The
training itself is ``tlcore.training.engine.train_model``; this module records it in the run folder.

``create_run`` writes the request (config.json, status "queued") and returns at once;
``execute`` does the work (in the worker process) and can be called again on the same
folder to resume from its checkpoint.
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from dataclasses import replace
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from tlcore import environment

from tlcore.jobs import pool, timings

from tlcore.models import ensemble
from tlcore.atomic import disk_full, is_disk_full
from tlcore.config import FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.data.dataset import Dataset
from tlcore.models.catalog import ModelSpec
from tlcore.training.distributed import SOLO, World, peer_lost
from tlcore.training.embed import embedder_key
from tlcore.training.engine import train_model
from tlcore.errors import TLError
from tlcore.models.freeze import backbone_is_frozen, resolve_trainable
from tlcore.training.inputs import Inputs
from tlcore.jobs.interrupt import (ALREADY_RUNNING, INTERRUPTED_TEXT, Interrupted, StopAsked, interruptible,
                                   stop_promptly)
from tlcore.training.progress import PHASES, report, run_fraction
from tlcore.training.recommend import (Recommendation, choose_evaluation, choose_recipe, image_kind, natural_sample,
                                       naturalness, recommend)
from tlcore.training.timing import Work, phases
from tlcore.record import INTERRUPTED, RunRecord
from tlcore.jobs.recorder import RunRecorder, finish, load_inputs, use_all_for_training
from tlcore.rundir import Heartbeat, QuietRun, RunDir
from tlcore.jobs.spread import device_of, spread

NOTHING_KEPT = "Stopped before the first epoch finished; no model was saved."
PEER_LOST = ("One of the processes training this run stopped unexpectedly. Resume the run to continue from its "
             "last checkpoint.")


def create_run(cfg: TrainConfig, run_dir: str | Path, parent: str = "") -> RunDir:
    """Make a new run folder holding the request; the worker fills in the rest.

    ``parent`` is the run this one continues or copies, kept in the record."""
    run = RunDir(run_dir)
    if run.exists():
        raise TLError(f"{run.path} already holds a run. Choose a new folder, or resume that run.")
    for path in filter(None, (cfg.data, cfg.test_data, cfg.init_from)):
        if not Path(path).exists():
            raise TLError(f"{path} does not exist. Check the path, or choose the images again.")
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_record(RunRecord(config=cfg, requested=cfg, created=time.time(), environment=environment.describe(),
                               parent=parent or cfg.init_from))
    run.set_status("queued", message="Waiting to start")
    return run


def execute(run_dir: str | Path, world: World = SOLO) -> str:
    """Train (or resume) the run in ``run_dir``; returns its final state. Never leaves the
    status as running: errors become "failed" with a message, cancels become "cancelled", and
    SIGTERM or SIGINT "interrupted" (resumable from the last checkpoint), as does the end of
    another rank of a distributed run. A second worker on the same run folder is refused before
    it changes anything. Under torchrun every rank calls it; rank 0 records the run."""
    if not world.main:
        return _follow(QuietRun(run_dir), world)
    run = RunDir(run_dir)
    cfg = run.record().config
    with _lock(run, world), interruptible():
        try:
            if cfg.world_size > 1 and not world.active:
                return spread(run, cfg.world_size, cfg.device)
            device = device_of(world, cfg.device)
            waiting = lambda: run.set_status("queued", message=f"Waiting for the {device.type.upper()}: "
                                             "another run is using it")
            with _slot(device, world, waiting, run.cancel_requested) as slot:
                if slot is None:
                    run.set_status("cancelled", message="Stopped before it started")
                    return "cancelled"
                run.set_status("running", message="Preparing", error=None)
                with Heartbeat(run):
                    return _train(run, cfg, slot, world)
        except Interrupted:
            run.set_status(INTERRUPTED, message="Interrupted", error=INTERRUPTED_TEXT)
            return INTERRUPTED
        except StopAsked:
            _stopped(run, forced=True)
            run.set_status("cancelled", message=NOTHING_KEPT)
            return "cancelled"
        except TLError as e:
            run.set_status("failed", error=str(e), message="Failed")
            raise
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            if world.active and peer_lost(e):
                run.set_status(INTERRUPTED, message="Interrupted", error=PEER_LOST)
                return INTERRUPTED
            problem = (str(disk_full(run.path)) if is_disk_full(e) else
                       f"Training stopped because of an unexpected problem; the details are in {run.log_path.name} "
                       "in the run folder. Resume the run, and report the problem if it happens again.")
            run.set_status("failed", message="Failed", error=problem)
            raise


@contextlib.contextmanager
def _lock(run: RunDir, world: World) -> Iterator[None]:
    """The run's worker lock (a second worker is refused), which the parent of a spread run
    already holds for its torchrun ranks."""
    if world.active and run.locked_by_ancestor():
        yield
        return
    with run.worker_lock() as ours:
        if not ours:
            raise TLError(ALREADY_RUNNING)
        yield


@contextlib.contextmanager
def _slot(device: torch.device, world: World, on_wait, should_stop) -> Iterator[torch.device | None]:
    """A slot of the device pool for a one-process run, waiting while the pool is busy, and the
    device to use in it; None when cancelled while waiting. Ranks under torchrun use the devices
    they were started on."""
    if world.active:
        yield device
        return
    with pool.hold(1, device.type, on_wait, should_stop) as got:
        yield None if got is None else (torch.device(got[0]) if torch.device(got[0]).type == device.type else device)


def _work(cfg: TrainConfig, recipe: str, spec: ModelSpec, size: int, labelled: int, val: int, test: int,
          device: torch.device) -> Work:
    """The work of a run of ``cfg`` (its depth, epochs and augmentation decided) with ``recipe``."""
    stages = resolve_trainable(cfg.trainable_stages, len(spec.stages))
    return timings.work_for(recipe=recipe, spec=spec, size=size, stages=stages,
                            frozen=backbone_is_frozen(spec, stages, cfg.train_bn), epochs=cfg.epochs,
                            augment=cfg.augment, labelled=labelled, val=val, test=test, device=device.type,
                            pretrained=cfg.weights == "pretrained" and not cfg.init_from)


def _decide(cfg: TrainConfig, spec: ModelSpec, size: int, labelled: dict[str, int], val: int, test: int,
            given_val: bool, device: torch.device, natural: float | None,
            kind: str | None) -> tuple[TrainConfig, Recommendation, Work]:
    """Fill "auto" choices from the recommender: the resolved config, the recommendation and the
    work of the run it makes (``val`` validation images among the ``labelled``, ``test`` images)."""
    chosen = None if cfg.trainable_stages == "auto" else resolve_trainable(cfg.trainable_stages, len(spec.stages))
    rec = recommend(labelled, natural, len(spec.stages), gpu=device.type == "cuda", chosen_stages=chosen)
    resolved = cfg.with_(
        trainable_stages=rec.trainable_stages if cfg.trainable_stages == "auto" else cfg.trainable_stages,
        epochs=cfg.epochs or rec.epochs,
        augment="none" if spec.kind == "text" else rec.augment if cfg.augment == "auto" else cfg.augment,
    )
    stages = resolve_trainable(resolved.trainable_stages, len(spec.stages))
    frozen = backbone_is_frozen(spec, stages, resolved.train_bn)
    rec = choose_evaluation(rec, resolved, frozen, labelled, given_val=given_val)
    held = 0 if rec.evaluation == "cv" else val
    works = {r: _work(resolved, r, spec, size, sum(labelled.values()), held, test, device)
             for r in ((FASTEST, MOST_ACCURATE) if frozen else (FASTEST,))}
    runs = timings.observations()
    estimates = {r: timings.estimate_work(w, runs) for r, w in works.items()}
    rec = choose_recipe(rec, resolved, frozen, labelled, ensemble.ready() and spec.kind == "image", estimates, kind)
    rec = replace(rec, estimates={r: timings.with_typical(works[r], e) for r, e in estimates.items()})
    # The size the images were read at (a model's own, or its processor size) is recorded, so the run
    # reproduces on any device.
    return resolved.with_(evaluation=rec.evaluation, recipe=rec.recipe, image_size=size), rec, works[rec.recipe]


def _record_plan(run: RunDir, work: Work, start: str = "decode") -> None:
    """Record the typical seconds of the phases from ``start`` on, for the share of the run done."""
    names = list(PHASES)
    left = {k: round(v, 3) for k, v in phases(work).items() if names.index(k) >= names.index(start)}
    run.append_event("plan", phases=list(left.items()), after=run_fraction(run))


def _first_plan(run: RunDir, cfg: TrainConfig, device: torch.device) -> Callable:
    """What ``load_inputs`` calls before reading the images: the plan of the whole run, as far as it
    is known before the images are looked at (an "auto" depth is decided again after)."""
    def planned(ds: Dataset, spec: ModelSpec, size: int, test: int, given_val: bool) -> None:
        labelled = {c: ds.counts("train").get(c, 0) + ds.counts("val").get(c, 0) for c in ds.classes}
        val = sum(ds.counts("val").values())
        work = (_work(cfg, cfg.recipe, spec, size, sum(labelled.values()), 0 if cfg.evaluation == "cv" else val,
                      test, device) if cfg.is_resolved
                else _decide(cfg, spec, size, labelled, val, test, given_val, device, None, None)[2])
        _record_plan(run, work)
    return planned


def _resolve(run: RunDir, cfg: TrainConfig, inputs: Inputs, device: torch.device) -> TrainConfig:
    """Fill "auto" choices from the recommender, and record them in config.json, with the plan of
    the phases to come."""
    test = 0 if inputs.test is None else len(inputs.test.x)
    if cfg.is_resolved:
        held = 0 if cfg.evaluation == "cv" else len(inputs.val.x)
        labelled = len(inputs.train.x) + len(inputs.val.x)
        _record_plan(run, _work(cfg, cfg.recipe, inputs.spec, inputs.image_size, labelled, held, test, device),
                     start="embed")
        return cfg
    natural = None
    if inputs.imagenet is not None:
        report(run.append_event, "export", 0, 1)  # its ONNX model is exported first, unless kept
        # the images the Strategy page asked about, at the same size
        decoded = {f: x for part in (inputs.train, inputs.val) for f, x in zip(part.files, part.x)}
        sample = torch.stack([decoded[f] for f in natural_sample(list(decoded), cfg.seed)])
        natural = naturalness(inputs.net.backbone, inputs.imagenet, sample, inputs.prep, device,
                              key=embedder_key(FASTEST, inputs.spec.name, inputs.image_size))
    labelled = {c: inputs.train.class_counts(inputs.classes)[c] + inputs.val.class_counts(inputs.classes)[c]
                for c in inputs.classes}
    resolved, rec, work = _decide(cfg, inputs.spec, inputs.image_size, labelled, len(inputs.val.x), test,
                                  inputs.given_val, device, natural,
                                  image_kind(inputs.train.x) if inputs.spec.kind == "image" else inputs.spec.kind)
    run.write_record(replace(run.record(), config=resolved, recommendation=rec.to_json()))
    run.append_event("recommendation", **rec.to_json())
    _record_plan(run, work, start="embed")
    return resolved


def _prepare(run: RunDir, cfg: TrainConfig, device: torch.device) -> tuple[TrainConfig, Inputs]:
    """The run's inputs and its resolved choices (rank 0 resolves them and records them; the
    other ranks of a distributed run read them back)."""
    torch.manual_seed(cfg.seed)  # the new head's initial weights
    inputs = load_inputs(run, cfg, device, _first_plan(run, cfg, device) if run.records else None)
    cfg = _resolve(run, cfg, inputs, device)
    if cfg.recipe == MOST_ACCURATE:
        run.set_status("running", message="Loading the most accurate model's networks")
        inputs = ensemble.with_ensemble(inputs, device)
    if cfg.evaluation == "cv":
        inputs = use_all_for_training(run, inputs)
    return cfg, inputs


def _stopped(run: RunDir, forced: bool) -> None:
    """Record the phase in which the user's Stop ended the run, and whether it ended a step that
    has no stop check of its own (``forced``)."""
    latest = run.events("progress")
    run.append_event("stopped", phase=latest[-1]["phase"] if latest else None, forced=forced)


def _follow(run: QuietRun, world: World) -> str:
    """A rank other than 0: wait for rank 0 to prepare the run, then train alongside it."""
    try:
        with interruptible():
            device = device_of(world, run.record().config.device)
            world.barrier()
            cfg, inputs = _prepare(run, run.record().config, device)
            trained = train_model(inputs, cfg, device, RunRecorder(run), world)
    except Interrupted:
        return INTERRUPTED
    return "cancelled" if trained.cancelled or trained.held is None else "finished"


def _train(run: RunDir, cfg: TrainConfig, device: torch.device, world: World = SOLO) -> str:
    """Load the run's inputs, resolve its choices, let the engine train, and record the result."""
    started, recorder = time.time(), RunRecorder(run)
    # One process: a Stop also ends a step with no stop check of its own, while nothing is kept yet.
    promptly = (stop_promptly(run.cancel_requested, lambda: recorder.acted, lambda: recorder.kept)
                if not world.active else contextlib.nullcontext())
    with promptly:
        cfg, inputs = _prepare(run, cfg, device)
        world.barrier()  # the other ranks load what rank 0 decided
        trained = train_model(inputs, cfg, device, recorder, world)
    if trained.cancelled:
        _stopped(run, forced=False)
    lost = [e["message"] for e in run.events("checkpoint_lost")]  # what a resume could not recover
    if trained.held is None:
        run.set_status("cancelled", message=NOTHING_KEPT)
        return "cancelled"
    warnings = lost + trained.warnings
    finish(run, cfg, inputs, trained.held, trained.test, trained.stages, trained.epoch, warnings)
    state = "cancelled" if trained.cancelled else "finished"
    if state == "finished" and world.size == 1:
        timings.record(run, started)  # this computer's speed, for the next runs' estimates
    message = (f"Stopped; the best model so far (epoch {trained.epoch}) was kept" if trained.cancelled else
               "Stopped early: the held-out loss stopped improving" if trained.early else "Finished")
    run.set_status(state, message=" ".join([f"{message}." if warnings else message] + warnings))
    return state
