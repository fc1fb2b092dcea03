"""Running a training job on a run directory: the worker's whole life, start to bundle.

``create_run`` writes the request (config.json, status "queued") and returns at once;
``execute`` does the work (in the worker process) and can be called again on the same
folder to resume from its checkpoint.
"""

from __future__ import annotations

import io
import json
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tlcore import environment
from tlcore.augment import BatchPrep
from tlcore.config import TrainConfig
from tlcore.devices import device_slot, place_on_device, resolve_device
from tlcore.embed import Embedder
from tlcore.errors import TLError
from tlcore.freeze import apply_freeze, backbone_is_frozen, param_groups, resolve_trainable, set_train_mode
from tlcore.inputs import Inputs, load_inputs
from tlcore.loop import class_weights, identity_prep, predict_logits, train_one_epoch, warmup_cosine
from tlcore.metrics import classification_metrics
from tlcore.progress import Throttle
from tlcore.recommend import naturalness, recommend
from tlcore.report import finish_run
from tlcore.soup import EachHeadLoss, HeadSoup
from tlcore.atomic import atomic_write_bytes
from tlcore.rundir import Heartbeat, RunDir

MAX_VIEWS = 8


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
    run.write_config({"config": cfg.to_json(), "requested": cfg.to_json(), "parent": parent or cfg.init_from,
                      "environment": environment.describe(), "created": time.time()})
    run.set_status("queued", message="Waiting to start")
    return run


def execute(run_dir: str | Path) -> str:
    """Train (or resume) the run in ``run_dir``; returns its final state. Never leaves the
    status as running: errors become "failed" with a message, cancels become "cancelled"."""
    run = RunDir(run_dir)
    if not run.exists():
        raise TLError(f"{run.path} is not a run folder (no config.json).")
    cfg = TrainConfig.from_json(run.read_config()["config"])
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
    except TLError as e:
        run.set_status("failed", error=str(e), message="Failed")
        raise
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        run.set_status("failed", message="Failed",
                       error=f"Training stopped because of an unexpected problem ({type(e).__name__}: {e}). "
                             f"Details are in {run.log_path.name} in the run folder.")
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
    counts = inputs.train.class_counts(inputs.classes)
    rec = recommend(counts, natural, len(inputs.spec.stages), gpu=device.type == "cuda")
    resolved = cfg.with_(
        trainable_stages=rec.trainable_stages if cfg.trainable_stages == "auto" else cfg.trainable_stages,
        epochs=cfg.epochs or rec.epochs,
        augment=rec.augment if cfg.augment == "auto" else cfg.augment,
    )
    record = run.read_config()
    record.update(config=resolved.to_json(), recommendation=rec.to_json())
    run.write_config(record)
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

    @property
    def fast(self) -> bool:
        return self.embedder is not None

    @property
    def train_size(self) -> int:
        return self.x_train.shape[1] if self.x_train.ndim == 3 else len(self.x_train)

    def epoch_inputs(self, generator: torch.Generator) -> torch.Tensor:
        """This epoch's training inputs: with augmented views, a random view of each image."""
        if self.x_train.ndim != 3:
            return self.x_train
        pick = torch.randint(len(self.x_train), (self.train_size,), generator=generator).to(self.x_train.device)
        return self.x_train[pick, torch.arange(self.train_size, device=self.x_train.device)]


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
                        key=(spec.name, inputs.image_size) if pretrained else None)
    x_train, x_val = (embedder(part.x, throttle.batch) for part in (inputs.train, inputs.val))
    views = [x_train]
    if cfg.augment != "none":
        total = augmented_views(cfg.epochs, len(x_train), x_train.shape[1])
        while len(views) < total:
            run.set_status("running", message=f"Computing features of augmented images ({len(views)} of {total - 1})")
            views.append(embedder(inputs.train.x, throttle.batch, augment=prep))
        x_train = torch.stack(views)
    run.append_event("features", engine=embedder.engine, images=len(x_val) + len(views) * len(inputs.train.x),
                     views=len(views), seconds=time.perf_counter() - start)
    x_train, x_val = place_on_device(x_train, device), place_on_device(x_val, device)
    return _Plan(soup, x_train, x_val, identity_prep(device), soup.train, soup, embedder)


def _train(run: RunDir, cfg: TrainConfig, device: torch.device) -> str:
    torch.manual_seed(cfg.seed)
    inputs = load_inputs(run, cfg, device)
    cfg = _resolve(run, cfg, inputs, device)
    stages = resolve_trainable(cfg.trainable_stages, len(inputs.spec.stages))
    apply_freeze(inputs.net, inputs.spec, stages, cfg.train_bn)
    if device.type == "cuda":
        inputs.net.to(memory_format=torch.channels_last)
    plan = _plan(run, cfg, inputs, device, stages)
    outcome = _fit(run, cfg, inputs, plan, device)
    if outcome["state"] is None:
        run.set_status("cancelled", message="Stopped before the first epoch finished; no model was saved.")
        return "cancelled"
    # A completed schedule ends annealed, so its final weights are kept; a run stopped early keeps
    # its best epoch (lowest validation loss), which on a tiny validation set is a noisier choice.
    plan.model.load_state_dict(outcome["state"])
    if plan.soup is not None:
        plan.soup.collapse_into(inputs.net.head)
    run.set_status("running", message="Evaluating and saving the model")
    val_logits = predict_logits(plan.model, plan.x_val, plan.prep, cfg.batch_size, device)
    test_logits = None
    if inputs.test is not None:
        test_x = plan.embedder(inputs.test.x, Throttle(run, "test").batch) if plan.fast else inputs.test.x
        test_logits = predict_logits(plan.model, test_x, plan.prep, cfg.batch_size, device)
    finish_run(run, cfg, inputs, val_logits, test_logits, stages, kept_epoch=outcome["epoch"])
    state = "cancelled" if outcome["cancelled"] else "finished"
    run.set_status(state, message="Stopped; the best model so far was kept" if outcome["cancelled"] else
                   "Stopped early: validation loss stopped improving" if outcome["early"] else "Finished")
    return state


def _fit(run: RunDir, cfg: TrainConfig, inputs: Inputs, plan: _Plan, device: torch.device) -> dict:
    """The epoch loop. Returns the weights to keep and why the loop ended."""
    net, classes, y_train, y_val = inputs.net, inputs.classes, inputs.train.y, inputs.val.y
    groups = (plan.soup.param_groups(cfg.lr, cfg.weight_decay) if plan.soup is not None
              else param_groups(net, cfg.lr, cfg.backbone_lr_mult, cfg.weight_decay))
    optimizer = torch.optim.AdamW(groups, fused=device.type == "cuda")  # one kernel per step on a GPU
    steps = math.ceil(plan.train_size / cfg.batch_size)
    scheduler = warmup_cosine(optimizer, int(cfg.warmup_epochs * steps), cfg.epochs * steps)
    weight = class_weights(y_train, len(classes)).to(device) if cfg.class_weighting else None
    loss_fn = EachHeadLoss(nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing))
    generator = torch.Generator().manual_seed(cfg.seed)
    ck = _load_checkpoint(run, plan.model, optimizer, scheduler, generator)
    best = {k: ck.get(k, v) for k, v in (("best_loss", math.inf), ("best_state", None), ("best_epoch", 0), ("bad", 0))}
    keep = lambda: _clone(plan.model.state_dict())
    throttle = Throttle(run, "train", epochs=cfg.epochs)
    end = {"cancelled": False, "early": False}
    for epoch in range(ck.get("epoch", 0) + 1, cfg.epochs + 1):
        run.set_status("running", message=f"Training: epoch {epoch} of {cfg.epochs}", epoch=epoch)
        throttle.epoch = epoch
        res = train_one_epoch(plan.model, plan.epoch_inputs(generator), y_train, plan.prep, loss_fn, optimizer, scheduler,
                              cfg.batch_size, generator, device, run.cancel_requested, throttle.batch, plan.set_mode)
        if res.stopped:
            end["cancelled"] = True
            break
        val_logits = predict_logits(plan.model, plan.x_val, plan.prep, cfg.batch_size, device)
        val_loss = float(nn.functional.cross_entropy(val_logits, y_val))
        event = dict(epoch=epoch, epochs=cfg.epochs, lr=optimizer.param_groups[0]["lr"], seconds=res.seconds,
                     train=classification_metrics(res.y_true, res.y_pred, classes, res.loss),
                     val=classification_metrics(y_val.tolist(), val_logits.argmax(1).tolist(), classes, val_loss),
                     images_per_second=len(res.y_true) / max(res.seconds, 1e-9), fast_path=plan.fast)
        if val_loss < best["best_loss"]:
            best.update(best_loss=val_loss, best_state=keep(), best_epoch=epoch, bad=0)
        else:
            best["bad"] += 1
        # Checkpoint first: an epoch event then always has its checkpoint behind it.
        _save_checkpoint(run, plan.model, optimizer, scheduler, generator, epoch, best, event)
        run.append_event("epoch", **event)
        end["cancelled"] = run.cancel_requested()
        end["early"] = bool(cfg.early_stopping) and best["bad"] >= cfg.early_stopping
        if end["early"]:
            run.append_event("early_stop", epoch=epoch, patience=cfg.early_stopping)
        if end["cancelled"] or end["early"]:
            break
    else:
        if best["best_state"] is not None:
            return {**end, "state": keep(), "epoch": cfg.epochs}
    return {**end, "state": best["best_state"], "epoch": best["best_epoch"]}


def _clone(state: dict) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _save_checkpoint(run: RunDir, model, optimizer, scheduler, generator, epoch: int, best: dict,
                     event: dict) -> None:
    """The full training state, written atomically so a kill never leaves half a checkpoint."""
    buf = io.BytesIO()
    torch.save({"epoch": epoch, "model": _clone(model.state_dict()), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                "rng": torch.get_rng_state(), "event": json.dumps(event), **best}, buf)
    atomic_write_bytes(run.checkpoint_path, buf.getvalue())


def _load_checkpoint(run: RunDir, model, optimizer, scheduler, generator) -> dict:
    """Restore the training state if this run was interrupted; {} for a fresh start."""
    if not run.checkpoint_path.is_file():
        return {}
    ck = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"])
    scheduler.load_state_dict(ck["scheduler"])
    generator.set_state(ck["generator"])
    torch.set_rng_state(ck["rng"])
    if max((e["epoch"] for e in run.events("epoch")), default=0) < ck["epoch"]:
        run.append_event("epoch", **json.loads(ck["event"]))  # killed between checkpoint and event
    run.append_event("resumed", epoch=ck["epoch"])
    return ck
