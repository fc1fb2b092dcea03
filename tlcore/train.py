"""Running a training job on a run directory: the worker's whole life, start to bundle.

``create_run`` writes the request (config.json, status "queued") and returns at once;
``execute`` does the work (in the worker process) and can be called again on the same
folder to resume from its checkpoint.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from tlcore import ensemble, environment
from tlcore.atomic import disk_full, is_disk_full
from tlcore.augment import BatchPrep
from tlcore.checkpoint import clone_state, load_checkpoint, save_checkpoint
from tlcore.config import MOST_ACCURATE, TrainConfig
from tlcore.crossval import out_of_fold_logits
from tlcore.devices import device_slot, place_on_device, resolve_device
from tlcore.embed import Embedder
from tlcore.errors import TLError
from tlcore.freeze import apply_freeze, backbone_is_frozen, param_groups, resolve_trainable, set_train_mode
from tlcore.inputs import Inputs, load_inputs, use_all_for_training
from tlcore.loop import identity_prep, pick_views, predict_logits, recipe, train_one_epoch
from tlcore.metrics import classification_metrics
from tlcore.progress import Throttle
from tlcore.recommend import choose_evaluation, choose_recipe, naturalness, recommend
from tlcore.record import INTERRUPTED, EpochEvent, RunRecord, SplitMetrics
from tlcore.report import Scored, finish_run
from tlcore.rundir import Heartbeat, RunDir
from tlcore.soup import HeadSoup
from tlcore.interrupt import ALREADY_RUNNING, INTERRUPTED_TEXT, Interrupted, interruptible

MAX_VIEWS = 8
RISING_EPOCHS = 3  # epochs in a row with the training loss above its start that count as diverging
NOTHING_KEPT = "Stopped before the first epoch finished; no model was saved."


class _StopNow(Exception):
    """Raised from a per-batch callback when Stop was asked, to leave a pass (computing features,
    scoring the validation images) that has no stop check of its own."""


def _stoppable(run: RunDir, on_batch: Callable[[int, int], None] | None = None) -> Callable[[int, int], None]:
    """A per-batch callback that reports progress, then leaves the pass if Stop was asked."""
    def batch(done: int, total: int) -> None:
        if on_batch:
            on_batch(done, total)
        if run.cancel_requested():
            raise _StopNow
    return batch


def stopping_text(test_images: int) -> str:
    """What a stopped run is doing while it finishes, for the Train page."""
    return ("Stopping: saving the model and scoring it on "
            f"{test_images} test image{'s' * (test_images != 1)}…" if test_images else "Stopping: saving the model…")


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


def execute(run_dir: str | Path) -> str:
    """Train (or resume) the run in ``run_dir``; returns its final state. Never leaves the
    status as running: errors become "failed" with a message, cancels become "cancelled", and
    SIGTERM or SIGINT "interrupted" (resumable from the last checkpoint). A second worker on the
    same run folder is refused before it changes anything."""
    run = RunDir(run_dir)
    cfg = run.record().config
    with run.worker_lock() as ours, interruptible():
        if not ours:
            raise TLError(ALREADY_RUNNING)
        try:
            device = resolve_device(cfg.device)
            waiting = lambda: run.set_status("queued", message=f"Waiting for the {device.type.upper()}: "
                                             "another run is using it")
            with device_slot(device, on_wait=waiting, should_stop=run.cancel_requested) as got:
                if not got:
                    run.set_status("cancelled", message="Cancelled before it started")
                    return "cancelled"
                run.set_status("running", message="Preparing", error=None)
                with Heartbeat(run):
                    return _train(run, cfg, device)
        except Interrupted:
            run.set_status(INTERRUPTED, message="Interrupted", error=INTERRUPTED_TEXT)
            return INTERRUPTED
        except TLError as e:
            run.set_status("failed", error=str(e), message="Failed")
            raise
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            problem = (str(disk_full(run.path)) if is_disk_full(e) else
                       f"Training stopped because of an unexpected problem; the details are in {run.log_path.name} "
                       "in the run folder. Resume the run, and report the problem if it happens again.")
            run.set_status("failed", message="Failed", error=problem)
            raise


def _resolve(run: RunDir, cfg: TrainConfig, inputs: Inputs, device: torch.device) -> TrainConfig:
    """Fill "auto" choices from the recommender, and record them in config.json."""
    if cfg.is_resolved:
        return cfg
    natural = None
    if inputs.imagenet is not None:
        order = torch.randperm(len(inputs.train.x), generator=torch.Generator().manual_seed(cfg.seed))
        natural = naturalness(inputs.net.backbone, inputs.imagenet, inputs.train.x[order[:32]],
                              inputs.prep, device)
    labelled = {c: inputs.train.class_counts(inputs.classes)[c] + inputs.val.class_counts(inputs.classes)[c]
                for c in inputs.classes}
    chosen = (None if cfg.trainable_stages == "auto"
              else resolve_trainable(cfg.trainable_stages, len(inputs.spec.stages)))
    rec = recommend(labelled, natural, len(inputs.spec.stages), gpu=device.type == "cuda", chosen_stages=chosen)
    resolved = cfg.with_(
        trainable_stages=rec.trainable_stages if cfg.trainable_stages == "auto" else cfg.trainable_stages,
        epochs=cfg.epochs or rec.epochs,
        augment=rec.augment if cfg.augment == "auto" else cfg.augment,
    )
    stages = resolve_trainable(resolved.trainable_stages, len(inputs.spec.stages))
    frozen = backbone_is_frozen(inputs.spec, stages, resolved.train_bn)
    rec = choose_evaluation(rec, resolved, frozen, labelled, given_val=inputs.given_val)
    rec = choose_recipe(rec, resolved, frozen, labelled, ensemble.ready(), gpu=device.type == "cuda")
    resolved = resolved.with_(evaluation=rec.evaluation, recipe=rec.recipe)
    run.write_record(replace(run.record(), config=resolved, recommendation=rec.to_json()))
    run.append_event("recommendation", **rec.to_json())
    return resolved


@dataclass
class _Plan:
    """What the epoch loop feeds: the module that learns, its inputs and how to prepare them."""

    model: nn.Module
    x_train: torch.Tensor  # images [N,3,S,S], features [N,D], or augmented views' features [V,N,D]
    x_val: torch.Tensor
    prep: Callable
    set_mode: Callable[[], None]
    soup: HeadSoup | None = None  # heads trained side by side on a frozen backbone
    embedder: Embedder | None = None  # set on the fast path: inputs are cached features
    oof: torch.Tensor | None = None  # cross-validation: out-of-fold logits [epochs, N, C]
    x_test: torch.Tensor | None = None  # fast path: test features, computed up front so a Stop need not wait

    @property
    def fast(self) -> bool:
        return self.embedder is not None

    @property
    def train_size(self) -> int:
        return self.x_train.shape[1] if self.x_train.ndim == 3 else len(self.x_train)


def augmented_views(epochs: int, images: int, feature_dim: int, budget_bytes: float = 2e9) -> int:
    """How many versions of each training image (the image itself, and augmented ones) a frozen
    backbone embeds: one per epoch up to MAX_VIEWS, fewer when their features would not fit in
    ``budget_bytes``."""
    return max(1, min(epochs, MAX_VIEWS, int(budget_bytes // (images * feature_dim * 4))))


def _plan(run: RunDir, cfg: TrainConfig, inputs: Inputs, device: torch.device, stages: int) -> _Plan:
    """What learns and from what. A frozen backbone gets a soup of heads trained on features
    computed once (the fast path): of each image and, with augmentation, of a fixed number of
    augmented versions of it, one version picked at random per image and epoch."""
    spec, net = inputs.spec, inputs.net
    prep = BatchPrep(spec.mean, spec.std, device, cfg.augment, inputs.image_size)
    if not backbone_is_frozen(spec, stages, cfg.train_bn):
        x_train, x_val = (place_on_device(part.x, device) for part in (inputs.train, inputs.val))
        return _Plan(net, x_train, x_val, prep, lambda: set_train_mode(net, spec, stages, cfg.train_bn))
    soup = HeadSoup(net.head).to(device)
    run.set_status("running", message="Computing image features once (frozen network)")
    throttle, start = Throttle(run, "embed"), time.perf_counter()
    pretrained = cfg.weights == "pretrained" and not cfg.init_from
    embedder = Embedder(net.backbone, inputs.prep, device, inputs.train.x,
                        key=(cfg.recipe, spec.name, inputs.image_size) if pretrained else None)
    stoppable = _stoppable(run, throttle.batch)
    x_train, x_val = (embedder(part.x, stoppable) for part in (inputs.train, inputs.val))
    x_test = embedder(inputs.test.x, stoppable) if inputs.test is not None else None
    views = [x_train]
    if cfg.augment != "none":
        total = augmented_views(cfg.epochs, len(x_train), x_train.shape[1])
        while len(views) < total:
            run.set_status("running", message=f"Computing features of augmented images ({len(views)} of {total - 1})")
            views.append(embedder(inputs.train.x, stoppable, augment=prep))
        x_train = torch.stack(views)
    run.append_event("features", engine=embedder.engine, images=len(x_val) + len(views) * len(inputs.train.x)
                     + (0 if x_test is None else len(x_test)),
                     views=len(views), seconds=time.perf_counter() - start)
    x_train, x_val = place_on_device(x_train, device), place_on_device(x_val, device)
    oof = None
    if cfg.evaluation == "cv":
        on_fold = lambda f, k: run.set_status("running", message=f"Cross-validation: scoring fold {f} of {k}")
        oof = out_of_fold_logits(x_train, inputs.train.y, len(inputs.classes), cfg, device, on_fold,
                                 run.cancel_requested)
    return _Plan(soup, x_train, x_val, identity_prep(device), soup.train, soup, embedder, oof, x_test)


def _train(run: RunDir, cfg: TrainConfig, device: torch.device) -> str:
    # Late in a cosine schedule, Adam's squared-gradient averages of a linear head fall into the
    # denormal range, where each CPU float op is ~100x slower: a head epoch then took 10x longer.
    torch.set_flush_denormal(True)
    torch.manual_seed(cfg.seed)
    inputs = load_inputs(run, cfg, device)
    cfg = _resolve(run, cfg, inputs, device)
    if cfg.recipe == MOST_ACCURATE:
        run.set_status("running", message="Loading the most accurate model's networks")
        inputs = ensemble.with_ensemble(inputs, device)
    if cfg.evaluation == "cv":
        inputs = use_all_for_training(run, inputs)
    stages = resolve_trainable(cfg.trainable_stages, len(inputs.spec.stages))
    apply_freeze(inputs.net, inputs.spec, stages, cfg.train_bn)
    if device.type == "cuda":
        inputs.net.to(memory_format=torch.channels_last)
    try:
        plan = _plan(run, cfg, inputs, device, stages)
    except _StopNow:
        plan = None
    if plan is None or (plan.oof is None and cfg.evaluation == "cv"):
        run.set_status("cancelled", message=NOTHING_KEPT)
        return "cancelled"
    outcome = _fit(run, cfg, inputs, plan, device)
    if outcome.failure:
        raise TLError(outcome.failure)
    if outcome.state is None:
        run.set_status("cancelled", message=NOTHING_KEPT)
        return "cancelled"
    # A completed schedule ends annealed, so its final weights are kept; a run stopped early keeps
    # its best epoch (lowest held-out loss), which on a tiny validation set is a noisier choice.
    plan.model.load_state_dict(outcome.state)
    if plan.soup is not None:
        plan.soup.collapse_into(inputs.net.head)
    test_images = len(inputs.test.y) if inputs.test is not None else 0
    run.set_status("running", message=stopping_text(test_images) if outcome.cancelled else
                   "Evaluating and saving the model")
    if plan.oof is not None:
        held = Scored("cv", plan.oof[outcome.epoch - 1], inputs.train.y, inputs.train.files)
    else:  # the kept epoch's validation logits when the loop has them: a Stop need not score them again
        logits = outcome.held_logits
        if logits is None:
            logits = predict_logits(plan.model, plan.x_val, plan.prep, cfg.batch_size, device)
        held = Scored("val", logits, inputs.val.y, inputs.val.files)
    test = None
    if inputs.test is not None:
        if not outcome.cancelled:
            run.set_status("running", message=f"Scoring the {test_images} test images")
        test_x = plan.x_test if plan.fast else inputs.test.x
        test = Scored("test", predict_logits(plan.model, test_x, plan.prep, cfg.batch_size, device),
                      inputs.test.y, inputs.test.files)
    finish_run(run, cfg, inputs, held, test, stages, outcome.epoch, outcome.warnings)
    state = "cancelled" if outcome.cancelled else "finished"
    message = (f"Stopped; the best model so far (epoch {outcome.epoch}) was kept" if outcome.cancelled else
               "Stopped early: the held-out loss stopped improving" if outcome.early else "Finished")
    run.set_status(state, message=" ".join([message] + outcome.warnings))
    return state


@dataclass
class _Outcome:
    """How the epoch loop ended, and the weights to keep."""

    state: dict | None = None
    epoch: int = 0
    held_logits: torch.Tensor | None = None  # the kept weights' validation logits, when the loop has them
    cancelled: bool = False
    early: bool = False
    failure: str = ""  # set when training diverged before learning anything useful
    warnings: list[str] = field(default_factory=list)


def _diverging(loss: float, epoch: int, best: dict) -> str:
    """Why training is diverging, in words, or "" while it is not."""
    if not math.isfinite(loss):
        return f"the training loss became too large to compute in epoch {epoch}"
    best.setdefault("start_loss", loss)
    best["rising"] = best.get("rising", 0) + 1 if epoch > 1 and loss > best["start_loss"] else 0
    if best["rising"] >= RISING_EPOCHS:
        return f"the training loss grew above where it started for {RISING_EPOCHS} epochs in a row"
    return ""


def _fit(run: RunDir, cfg: TrainConfig, inputs: Inputs, plan: _Plan, device: torch.device) -> _Outcome:
    """The epoch loop. Returns the weights to keep and why the loop ended."""
    net, classes, y_train = inputs.net, inputs.classes, inputs.train.y
    y_held = y_train if plan.oof is not None else inputs.val.y
    groups = (plan.soup.param_groups(cfg.lr, cfg.weight_decay) if plan.soup is not None
              else param_groups(net, cfg.lr, cfg.backbone_lr_mult, cfg.weight_decay))
    optimizer, scheduler, loss_fn = recipe(groups, cfg, y_train, plan.train_size, len(classes), device)
    generator = torch.Generator().manual_seed(cfg.seed)
    ck = load_checkpoint(run, plan.model, optimizer, scheduler, generator)
    best = {"best_loss": math.inf, "best_state": None, "best_epoch": 0, "best_accuracy": 0.0, "bad": 0}
    best.update({k: v for k, v in ck.items() if k in best or k in ("start_loss", "rising")})
    keep = lambda: clone_state(plan.model.state_dict())
    throttle = Throttle(run, "train", epochs=cfg.epochs)
    out = _Outcome(warnings=[e["message"] for e in run.events("checkpoint_lost")])  # what a resume could not recover
    held_out = "cv" if plan.oof is not None else "val"
    logits = {}  # epoch -> validation logits, of the best epoch and the last one (not checkpointed)
    for epoch in range(ck.get("epoch", 0) + 1, cfg.epochs + 1):
        run.set_status("running", message=f"Training: epoch {epoch} of {cfg.epochs}", epoch=epoch)
        throttle.epoch = epoch
        res = train_one_epoch(plan.model, pick_views(plan.x_train, generator), y_train, plan.prep, loss_fn,
                              optimizer, scheduler, cfg.batch_size, generator, device, run.cancel_requested,
                              throttle.batch, plan.set_mode)
        if res.stopped:
            out.cancelled = True
            break
        why = _diverging(res.loss, epoch, best)
        if why and not math.isfinite(res.loss):
            return _diverged(out, best, why, y_held, cfg)
        try:  # a Stop while the validation images are scored ends the loop at the epoch before
            val_logits = (plan.oof[epoch - 1] if plan.oof is not None else
                          predict_logits(plan.model, plan.x_val, plan.prep, cfg.batch_size, device, _stoppable(run)))
        except _StopNow:
            out.cancelled = True
            break
        val_loss = float(nn.functional.cross_entropy(val_logits, y_held))
        val = classification_metrics(y_held.tolist(), val_logits.argmax(1).tolist(), classes, val_loss)
        event = EpochEvent(epoch=epoch, epochs=cfg.epochs, lr=optimizer.param_groups[0]["lr"], seconds=res.seconds,
                           train=SplitMetrics(**classification_metrics(res.y_true, res.y_pred, classes, res.loss)),
                           val=SplitMetrics(**val), images_per_second=len(res.y_true) / max(res.seconds, 1e-9),
                           fast_path=plan.fast, held_out=held_out)
        logits = {e: v for e, v in logits.items() if e == best["best_epoch"]} | {epoch: val_logits}
        if val_loss < best["best_loss"]:
            best.update(best_loss=val_loss, best_state=keep(), best_epoch=epoch, bad=0,
                        best_accuracy=val["accuracy"])
        else:
            best["bad"] += 1
        payload = {k: v for k, v in event.to_json().items() if k not in ("type", "time")}
        # Checkpoint first: an epoch event then always has its checkpoint behind it.
        save_checkpoint(run, plan.model, optimizer, scheduler, generator, epoch, best, payload)
        run.append_epoch(event)
        if why:
            return _diverged(out, best, why, y_held, cfg)
        out.cancelled = run.cancel_requested()
        out.early = bool(cfg.early_stopping) and best["bad"] >= cfg.early_stopping
        if out.early:
            run.append_event("early_stop", epoch=epoch, patience=cfg.early_stopping)
        if out.cancelled or out.early:
            break
    else:
        if best["best_state"] is not None:
            out.state, out.epoch = keep(), cfg.epochs
            out.held_logits = logits.get(out.epoch)
            return out
    out.state, out.epoch = best["best_state"], best["best_epoch"]
    out.held_logits = logits.get(out.epoch)
    return out


def _diverged(out: _Outcome, best: dict, why: str, y_held: torch.Tensor, cfg: TrainConfig) -> _Outcome:
    """Keep the best epoch before training went wrong when it beats always answering the most
    common class; otherwise the run fails with advice."""
    majority = float(torch.bincount(y_held).max()) / max(len(y_held), 1)
    if best["best_state"] is None or best["best_accuracy"] <= majority:
        out.failure = (f"Training went wrong: {why}, so no useful model was learned. Lower the learning rate "
                       f"under Advanced (it was {cfg.lr:g}; try {cfg.lr / 10:g}) and train again.")
        return out
    out.state, out.epoch = best["best_state"], best["best_epoch"]
    out.warnings.append(f"Training became unstable ({why}); the model from epoch {best['best_epoch']}, before "
                        "that, was kept. A lower learning rate (under Advanced) may give a better model.")
    return out
