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
from collections.abc import Iterator
from pathlib import Path

import torch

from tlcore import environment

from tlcore.jobs import pool, stats, timings

from tlcore.models import ensemble
from tlcore.atomic import disk_full, is_disk_full
from tlcore.config import MOST_ACCURATE, TrainConfig
from tlcore.data.labels import labels_made
from tlcore.training.distributed import SOLO, World, peer_lost
from tlcore.training.engine import train_model
from tlcore.errors import TLError
from tlcore.training.inputs import Inputs
from tlcore.jobs.interrupt import (ALREADY_RUNNING, INTERRUPTED_TEXT, Interrupted, StopAsked, interruptible,
                                   stop_promptly)
from tlcore.training.progress import PHASES, run_fraction
from tlcore.training.text_inputs import for_data
from tlcore.training.timing import Work, phases
from tlcore.jobs.plan import Plan, resolve
from tlcore.record import INTERRUPTED, RunRecord
from tlcore.jobs.recorder import RunRecorder, finish, load_inputs, use_all_for_training
from tlcore.rundir import Heartbeat, QuietRun, RunDir
from tlcore.jobs.spread import device_of, spread

WAITING = "Waiting for the {device}: another run is using it"
STOPPED_KEPT = "Stopped; the best model so far (epoch {epoch}) was kept"
STOPPED_EARLY = "Stopped early: the held-out loss stopped improving"
NOTHING_KEPT = "Stopped before the first epoch finished; no model was saved."
PEER_LOST = ("One of the processes training this run stopped unexpectedly. Resume the run to continue from its "
             "last checkpoint.")


def check_sources(cfg: TrainConfig) -> None:
    """A TLError naming the first of a request's images, test images or earlier run that is not there."""
    for path in filter(None, (cfg.data, cfg.test_data, cfg.init_from)):
        if not Path(path).exists():
            raise TLError(f"{path} does not exist. Check the path, or choose the images again.")


def create_run(cfg: TrainConfig, run_dir: str | Path, parent: str = "", plan: Plan | None = None) -> RunDir:
    """Make a new run folder holding the request and, when it was decided before (``plan``, from
    ``plan_run``), its Plan, which the worker then follows; without one the worker decides it.

    ``parent`` is the run this one continues or copies, kept in the record. A text dataset with the
    default model trains the text model (``for_data``)."""
    cfg = for_data(cfg)
    run = RunDir(run_dir)
    if run.exists():
        raise TLError(f"{run.path} already holds a run. Choose a new folder, or resume that run.")
    check_sources(cfg)
    run.path.mkdir(parents=True, exist_ok=True)
    record = RunRecord(config=cfg, requested=cfg, created=time.time(), environment=environment.describe(),
                       parent=parent or cfg.init_from, labels=labels_made(cfg.data))
    run.write_record(record if plan is None else _following(record, plan))
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
            waiting = lambda: run.set_status("queued", message=WAITING.format(device=device.type.upper()))
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


def _record_plan(run: RunDir, work: Work, start: str = "decode") -> None:
    """Record the typical seconds of the phases from ``start`` on, for the share of the run done."""
    names = list(PHASES)
    left = {k: round(v, 3) for k, v in phases(work).items() if names.index(k) >= names.index(start)}
    run.append_event("plan", phases=list(left.items()), after=run_fraction(run))


def _following(record: RunRecord, plan: Plan) -> RunRecord:
    """``record`` of a run that follows ``plan``: its settings and recommendation are the Plan's."""
    return replace(record, config=plan.config, recommendation=plan.recommendation.to_json(), plan=plan.to_json())


def _planned(run: RunDir, device: torch.device) -> Plan:
    """The run's Plan: the one it was created (or first started) with; a run created without one
    (a sweep's, a rerun's) gets it here, once, from the images' statistics, and records it."""
    record = run.record()
    if record.plan is not None:
        return Plan.from_json(record.plan)
    run.set_status("running", message="Looking at the images with the pretrained model")
    cfg = record.config
    chosen = plan_run(cfg, device.type)
    run.write_record(_following(run.record(), chosen))
    run.append_event("recommendation", **chosen.recommendation.to_json())
    return chosen


def plan_run(request: TrainConfig, device: str) -> Plan:
    """The Plan of a run of ``request`` on ``device`` ("cpu" or "cuda"), from its images' statistics
    (measured once: tlcore.jobs.stats) and what this computer has observed."""
    request = for_data(request)
    check_sources(request)
    measured = stats.dataset_stats(request, device)
    return resolve(request, measured, device, stats.observe(measured.model, measured.image_size))


def _prepare(run: RunDir, cfg: TrainConfig, device: torch.device) -> tuple[TrainConfig, Inputs]:
    """The run's inputs and its settings as its Plan decided them (rank 0 decides them, if the run
    was created without a Plan, and records them; the other ranks of a distributed run read them back)."""
    torch.manual_seed(cfg.seed)  # the new head's initial weights
    plan = _planned(run, device) if run.records else Plan.from_json(run.record().plan)
    cfg = plan.config
    if run.records:
        _record_plan(run, plan.work)
    inputs = load_inputs(run, cfg, device)
    if run.records:
        _record_plan(run, plan.work, start="embed")
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
    message = (STOPPED_KEPT.format(epoch=trained.epoch) if trained.cancelled else
               STOPPED_EARLY if trained.early else "Finished")
    run.set_status(state, message=" ".join([f"{message}." if warnings else message] + warnings))
    return state
