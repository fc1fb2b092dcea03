"""The training engine: from loaded inputs and a resolved config to trained weights and their
scores. It knows no run folder: it reports through a ``tlcore.training.reporter.Reporter`` (the run
folder's recorder, a test's memory, a notebook's) and returns what it made."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from tlcore.config import FASTEST, TrainConfig
from tlcore.training.crossval import out_of_fold_logits
from tlcore.training.divergence import diverging
from tlcore.training.estimate import stratified_folds
from tlcore.training.text_recipe import name_features, out_of_fold, train_text_head
from tlcore.models.text_net import text_tokenizer
from tlcore.training.devices import place_on_device
from tlcore.training.distributed import SOLO, World
from tlcore.training.embed import Embedder, embedder_key
from tlcore.errors import TLError
from tlcore.models.freeze import apply_freeze, backbone_is_frozen, param_groups, resolve_trainable, set_train_mode
from tlcore.training.augment import BatchPrep
from tlcore.training.checkpoint import clone_state
from tlcore.training.inputs import Inputs
from tlcore.training.loop import LoopState, identity_prep, pick_views, predict_logits, recipe, train_one_epoch
from tlcore.training.metrics import classification_metrics
from tlcore.training.progress import Throttle, report
from tlcore.record import EpochEvent, SplitMetrics
from tlcore.training.reporter import Reporter
from tlcore.training.report import Scored
from tlcore.models.net import FeatureNorm
from tlcore.models.soup import HeadSoup

MAX_VIEWS = 8
# Splitting keeps exact copies together (tlcore.data.dataset.assign_splits), so a class of one picture
# saved twice has nothing to set aside.
NO_VALIDATION = ("No image could be set aside to check the model: a class needs at least 2 different pictures "
                 "for that (exact copies count as one). Add more different pictures to each class, then train again.")
TEST_SKIPPED = ("Stopped before the test images were scored; the score is on the images set aside to check "
                "the model.")
UNSTABLE = ("Training became unstable ({why}); the model from epoch {epoch}, the best on the held-out images, was "
            "kept. A lower learning rate (under Advanced) may give a better model.")


def _agreed(reporter: Reporter, world: World) -> Callable[[], bool]:
    """The reporter's Stop, agreed by every rank (each rank asks at the same points)."""
    return lambda: world.agree(reporter.should_stop())


def _data_parallel(net: nn.Module, device: torch.device) -> nn.Module:
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


class _StopNow(Exception):
    """Raised from a per-batch callback when Stop was asked, to leave a pass (computing features,
    scoring the validation images) that has no stop check of its own."""


def _stoppable(should_stop: Callable[[], bool],
               on_batch: Callable[[int, int], None] | None = None) -> Callable[[int, int], None]:
    """A per-batch callback that reports progress, then leaves the pass if Stop was asked."""
    def batch(done: int, total: int) -> None:
        if on_batch:
            on_batch(done, total)
        if should_stop():
            raise _StopNow
    return batch


def stopping_text(test_images: int) -> str:
    """What a stopped run is doing while it finishes, for the Train page."""
    return ("Stopping: saving the model and scoring it on "
            f"{test_images} test image{'s' * (test_images != 1)}…" if test_images else "Stopping: saving the model…")


@dataclass
class Trained:
    """What training made: ``inputs.net`` holds the kept weights; ``held`` is None when nothing
    was kept (stopped before the first epoch finished)."""

    held: Scored | None
    test: Scored | None = None
    stages: int = 0
    epoch: int = 0
    cancelled: bool = False
    early: bool = False
    warnings: list[str] = field(default_factory=list)


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
    names: torch.Tensor | None = None  # a frozen text run: its class names' features (tlcore.training.text_recipe)
    learner: nn.Module | None = None  # what the training pass calls: ``model`` in DistributedDataParallel

    @property
    def trainer(self) -> nn.Module:
        return self.learner or self.model

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


def _sharded(embedder: Embedder, world: World, reporter: Reporter, on_batch: Callable[[int, int], None]):
    """Features of images computed in shares, one per rank, and gathered: every rank gets them
    all. A Stop seen by any rank during the pass stops every rank after it."""
    def embed(images: torch.Tensor, augment: Callable | None = None) -> torch.Tensor:
        try:
            local, stopped = embedder(images[world.part(len(images))], _stoppable(reporter.should_stop, on_batch), augment), False
        except _StopNow:
            local, stopped = None, True
        if world.agree(stopped):
            raise _StopNow
        return world.gather_rows(local)
    return embed


def _plan(reporter: Reporter, cfg: TrainConfig, inputs: Inputs, device: torch.device, stages: int,
          world: World) -> _Plan:
    """What learns and from what. A frozen backbone gets a soup of heads trained on features
    computed once (the fast path): of each image and, with augmentation, of a fixed number of
    augmented versions of it, one version picked at random per image and epoch. A single
    pretrained network's features reach the heads through FeatureNorm, which the saved model
    keeps in front of its head. On several
    ranks the features are computed in shares and gathered, and every rank trains the same heads;
    a network that learns is wrapped in DistributedDataParallel."""
    spec, net = inputs.spec, inputs.net
    # Token ids need no preparation but the move to the device (inputs.prep); images are augmented.
    prep = (BatchPrep(spec.mean, spec.std, device, cfg.augment, inputs.image_size) if spec.kind == "image"
            else inputs.prep)
    if not backbone_is_frozen(spec, stages, cfg.train_bn):
        x_train, x_val = (place_on_device(part.x, device) for part in (inputs.train, inputs.val))
        return _Plan(net, x_train, x_val, prep, lambda: set_train_mode(net, spec, stages, cfg.train_bn),
                     learner=_data_parallel(net, device) if world.active else None)
    soup = HeadSoup(net.head).to(device)
    n_train, pretrained = len(inputs.train.x), cfg.weights == "pretrained" and not cfg.init_from
    total_views = augmented_views(cfg.epochs, n_train, net.head[-1].in_features) if cfg.augment != "none" else 1
    # All passes (the training, validation and test images, the augmented versions) are one step
    # of the run's progress: the features of so many images.
    passes = [n_train, len(inputs.val.x), 0 if inputs.test is None else len(inputs.test.x)]
    passes += [n_train] * (total_views - 1)
    reporter.status("Computing image features once (frozen network)")
    report(reporter.event, "embed", 0, sum(passes))
    throttle, start = Throttle(reporter.event, "embed"), time.perf_counter()
    embedder = Embedder(net.backbone, inputs.prep, device, inputs.train.x,
                        key=embedder_key(cfg.recipe, spec.name, inputs.image_size) if pretrained else None)
    setup = time.perf_counter() - start  # loading (or first exporting) the ONNX model: not per image
    if pretrained and cfg.recipe == FASTEST and spec.kind == "image":
        net.norm = FeatureNorm()  # the head learns on normalised features (measured: tlcore.models.net)

    def embed(k: int, images: torch.Tensor, augment: Callable | None = None) -> torch.Tensor:
        """The features of pass ``k``."""
        part = throttle.part(sum(passes[:k]), sum(passes)) if world.size == 1 else throttle.batch
        return net.norm(_sharded(embedder, world, reporter, part)(images, augment))

    x_train, x_val = embed(0, inputs.train.x), embed(1, inputs.val.x)
    x_test = embed(2, inputs.test.x) if inputs.test is not None else None
    views = [x_train]
    while len(views) < total_views:
        reporter.status(f"Computing features of augmented images ({len(views)} of {total_views - 1})")
        views.append(embed(2 + len(views), inputs.train.x, augment=prep))
    if cfg.augment != "none":
        x_train = torch.stack(views)
    reporter.event("features", engine=embedder.engine, images=len(x_val) + len(views) * len(inputs.train.x)
                   + (0 if x_test is None else len(x_test)),
                   views=len(views), seconds=time.perf_counter() - start, setup=setup)
    x_train, x_val = place_on_device(x_train, device), place_on_device(x_val, device)
    oof = names = None
    if spec.kind == "text":  # the default text recipe, fitted once (_fit_text)
        names = name_features(embedder, text_tokenizer(spec), inputs.classes)
        if cfg.evaluation == "cv":
            folds = stratified_folds(inputs.train.y.numpy(), cfg.folds, cfg.seed)
            oof = out_of_fold(x_train.cpu(), inputs.train.y, names, len(inputs.classes), folds)[None]
    elif cfg.evaluation == "cv":
        report(reporter.event, "cv", 0, cfg.epochs)
        folds = Throttle(reporter.event, "cv", rates=False)

        def on_epoch(e: int, epochs: int) -> None:
            reporter.status(f"Cross-validation: epoch {e} of {epochs}")
            folds.batch(e - 1, epochs)
        oof = out_of_fold_logits(x_train, inputs.train.y, len(inputs.classes), cfg, device, on_epoch,
                                 _agreed(reporter, world))
    return _Plan(soup, x_train, x_val, identity_prep(device), soup.train, soup, embedder, oof, x_test, names=names)


def train_model(inputs: Inputs, cfg: TrainConfig, device: torch.device, reporter: Reporter,
                world: World = SOLO) -> Trained:
    """Train ``inputs.net`` as the resolved ``cfg`` says, resuming from the reporter's kept state,
    and score the kept weights on the held-out images (validation or cross-validation) and the
    test images. Raises TLError when training diverged before learning anything useful, or
    when a holdout run has no validation images.

    Under torchrun every rank calls it with the same inputs and its own ``world``; all ranks
    return the same result, and only rank 0's reporter should record it. For a reproducible run,
    seed torch (``torch.manual_seed(cfg.seed)``) before building ``inputs.net``, as the run folder's
    worker does: the new head's first weights and every random draw of training then follow it."""
    if not cfg.is_resolved:
        raise ValueError("train_model needs a resolved config (no 'auto' choices left)")
    if cfg.evaluation == "holdout" and not len(inputs.val.y):
        raise TLError(NO_VALIDATION)
    torch.set_flush_denormal(True)  # Adam's tiny late-schedule averages are ~100x slower as CPU denormals
    stages = resolve_trainable(cfg.trainable_stages, len(inputs.spec.stages))
    apply_freeze(inputs.net, inputs.spec, stages, cfg.train_bn)
    if device.type == "cuda":
        inputs.net.to(memory_format=torch.channels_last)
    try:
        plan = _plan(reporter, cfg, inputs, device, stages, world)
    except _StopNow:
        return Trained(held=None, stages=stages, cancelled=True)
    if plan.oof is None and cfg.evaluation == "cv":
        return Trained(held=None, stages=stages, cancelled=True)
    out = (_fit_text(inputs, plan, reporter) if plan.fast and inputs.spec.kind == "text"
           else _fit(reporter, cfg, inputs, plan, device, world))
    if out.failure:
        raise TLError(out.failure)
    if out.state is None:
        return Trained(held=None, stages=stages, cancelled=True, warnings=out.warnings)
    # A completed schedule ends annealed, so its final weights are kept; a run stopped early keeps
    # its best epoch (lowest held-out loss), which on a tiny validation set is a noisier choice.
    plan.model.load_state_dict(out.state)
    if plan.soup is not None:
        plan.soup.collapse_into(inputs.net.head)
    test_images = len(inputs.test.y) if inputs.test is not None else 0
    # A frozen network's test features are computed already; a network that learned would score its
    # test images one by one, which a Stop skips.
    reporter.status(stopping_text(test_images if plan.fast else 0) if out.cancelled
                    else "Evaluating and saving the model")
    if plan.oof is not None:
        held = Scored("cv", plan.oof[out.epoch - 1], inputs.train.y, inputs.train.files)
    else:  # the kept epoch's validation logits when the loop has them: a Stop need not score them again
        logits = out.held_logits
        if logits is None:
            logits = predict_logits(plan.model, plan.x_val, plan.prep, cfg.batch_size, device)
        held = Scored("val", logits, inputs.val.y, inputs.val.files)
    test = None
    if inputs.test is not None and plan.fast:
        test = Scored("test", predict_logits(plan.model, plan.x_test, plan.prep, cfg.batch_size, device),
                      inputs.test.y, inputs.test.files)
    elif inputs.test is not None and not out.cancelled:
        reporter.status(f"Scoring the {test_images} test images")
        report(reporter.event, "test", 0, test_images)
        try:
            logits = predict_logits(plan.model, inputs.test.x, plan.prep, cfg.batch_size, device,
                                    _stoppable(_agreed(reporter, world), Throttle(reporter.event, "test").batch))
            test = Scored("test", logits, inputs.test.y, inputs.test.files)
        except _StopNow:
            out.cancelled = True
            reporter.status(stopping_text(0))
    if inputs.test is not None and test is None:
        out.warnings.append(TEST_SKIPPED)
    report(reporter.event, "save", 0, 1)
    return Trained(held, test, stages, out.epoch, out.cancelled, out.early, out.warnings)


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


def _restore(reporter: Reporter, world: World, *objects) -> tuple[LoopState, dict | None]:
    """The kept training state, read by rank 0 first (which may set a damaged file aside), then
    by the others."""
    if world.main:
        kept = reporter.restore(*objects)
    world.barrier()
    if not world.main:
        kept = reporter.restore(*objects)
    return kept


def _fit_text(inputs: Inputs, plan: _Plan, reporter: Reporter) -> _Outcome:
    """A frozen text run: the default text recipe fitted once on the cached features, its one epoch."""
    y_held = inputs.train.y if plan.oof is not None else inputs.val.y
    held = train_text_head(reporter, plan.soup, plan.x_train, inputs.train.y, plan.x_val, y_held, plan.names,
                           inputs.classes, None if plan.oof is None else plan.oof[0])
    return _Outcome(clone_state(plan.model.state_dict()), 1, held)


def _fit(reporter: Reporter, cfg: TrainConfig, inputs: Inputs, plan: _Plan, device: torch.device,
         world: World) -> _Outcome:
    """The epoch loop. Returns the weights to keep and why the loop ended."""
    net, classes, y_train = inputs.net, inputs.classes, inputs.train.y
    y_held = y_train if plan.oof is not None else inputs.val.y
    groups = (plan.soup.param_groups(cfg.lr, cfg.weight_decay) if plan.soup is not None
              else param_groups(net, cfg.lr, cfg.backbone_lr_mult, cfg.weight_decay))
    optimizer, scheduler, loss_fn = recipe(groups, cfg, y_train, plan.train_size, len(classes), device)
    generator = torch.Generator().manual_seed(cfg.seed)
    state, best_weights = _restore(reporter, world, plan.model, optimizer, scheduler, generator)
    should_stop = _agreed(reporter, world)
    keep = lambda: clone_state(plan.model.state_dict())
    report(reporter.event, "train", 0, 1)
    throttle = Throttle(reporter.event, "train", epochs=cfg.epochs)
    out = _Outcome()
    held_out = "cv" if plan.oof is not None else "val"
    logits = {}  # epoch -> validation logits, of the best epoch and the last one (not checkpointed)
    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        reporter.status(f"Training: epoch {epoch} of {cfg.epochs}", epoch=epoch)
        throttle.epoch = epoch
        res = train_one_epoch(plan.trainer, pick_views(plan.x_train, generator), y_train, plan.prep, loss_fn,
                              optimizer, scheduler, cfg.batch_size, generator, device, should_stop,
                              throttle.batch, plan.set_mode, world if plan.learner else SOLO)
        if res.stopped:
            out.cancelled = True
            break
        why = diverging(res.loss, epoch, state, len(classes))
        if why and not math.isfinite(res.loss):
            return _diverged(out, state, best_weights, why, y_held, cfg)
        try:  # a Stop while the validation images are scored ends the loop at the epoch before
            val_logits = (plan.oof[epoch - 1] if plan.oof is not None else predict_logits(
                plan.model, plan.x_val, plan.prep, cfg.batch_size, device, _stoppable(should_stop)))
        except _StopNow:
            out.cancelled = True
            break
        val_loss = float(nn.functional.cross_entropy(val_logits, y_held))
        if not (why or math.isfinite(val_loss)):
            why = f"the held-out loss became too large to compute in epoch {epoch}"
        val = classification_metrics(y_held.tolist(), val_logits.argmax(1).tolist(), classes, val_loss)
        event = EpochEvent(epoch=epoch, epochs=cfg.epochs, lr=optimizer.param_groups[0]["lr"], seconds=res.seconds,
                           train=SplitMetrics(**classification_metrics(res.y_true, res.y_pred, classes, res.loss)),
                           val=SplitMetrics(**val), images_per_second=len(res.y_true) / max(res.seconds, 1e-9),
                           fast_path=plan.fast, held_out=held_out)
        logits = {e: v for e, v in logits.items() if e == state.best_epoch} | {epoch: val_logits}
        state.epoch = epoch
        if state.improved(val_loss):
            state.best_loss, state.best_epoch, state.bad, state.best_accuracy = val_loss, epoch, 0, val["accuracy"]
            best_weights = keep()
        else:
            state.bad += 1
        payload = {k: v for k, v in event.to_json().items() if k not in ("type", "time")}
        # Checkpoint first: an epoch event then always has its checkpoint behind it.
        reporter.checkpoint(plan.model, optimizer, scheduler, generator, state, best_weights, payload)
        reporter.epoch(event)
        if why:
            return _diverged(out, state, best_weights, why, y_held, cfg)
        out.cancelled = should_stop()
        out.early = bool(cfg.early_stopping) and state.bad >= cfg.early_stopping
        if out.early:
            reporter.event("early_stop", epoch=epoch, patience=cfg.early_stopping)
        if out.cancelled or out.early:
            break
    else:
        if best_weights is not None:
            out.state, out.epoch = keep(), cfg.epochs
            out.held_logits = logits.get(out.epoch)
            return out
    out.state, out.epoch = best_weights, state.best_epoch
    out.held_logits = logits.get(out.epoch)
    return out


def _diverged(out: _Outcome, state: LoopState, best_weights: dict | None, why: str, y_held: torch.Tensor,
              cfg: TrainConfig) -> _Outcome:
    """Keep the best epoch before training went wrong when it beats always answering the most
    common class; otherwise the run fails with advice."""
    majority = float(torch.bincount(y_held).max()) / max(len(y_held), 1)
    if best_weights is None or state.best_accuracy <= majority:
        out.failure = (f"Training went wrong: {why}, so no useful model was learned. Lower the learning rate "
                       f"under Advanced (it was {cfg.lr:g}; try {cfg.lr / 10:g}) and train again.")
        return out
    out.state, out.epoch = best_weights, state.best_epoch
    out.warnings.append(UNSTABLE.format(why=why, epoch=state.best_epoch))
    return out
