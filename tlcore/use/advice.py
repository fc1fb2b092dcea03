"""Advice in plain words from a run's curves, scores and data, and from its recorded Plan (the settings
and recommendation decided before it trained; tlcore.jobs.plan), which it never decides again."""

from __future__ import annotations

from dataclasses import replace

from tlcore.config import TrainConfig
from tlcore.data.dataset import Dataset
from tlcore.errors import TLError
from tlcore.jobs.plan import Plan
from tlcore.jobs.timings import estimate_work
from tlcore.record import SPLITS, Metrics, RecordError, RunRecord, SplitMetrics, in_texts
from tlcore.rundir import RunDir
from tlcore.jobs.runs import history
from tlcore.models.catalog import get_spec
from tlcore.training.engine import MAX_VIEWS, augmented_views
from tlcore.training.timing import Work

FEW_IMAGES = 20
GAP = 0.15  # train minus held-out accuracy that signals memorising
WEAK_RECALL = 0.6
OVER_FITTING = ("Over-fitting: the kept model (epoch {epoch}) gets {train:.0%} of training images right but only "
                "{held_out:.0%} of {held}, so it is memorising. To fix it, {cure}.{since}")
AUGMENTATION_SINCE = (" The Strategy page recommended augmentation off, before training, so that each image passes "
                      "through the network once and training stays fast; it could not see then that the model would "
                      "memorise. The held-out scores now show it does, so augmentation is worth its extra time{time}.")
ON_THIS_COMPUTER = " ({time} on this computer)"


def _augmented_work(plan: Plan | None, rec: dict, recipe: str) -> Work | None:
    """The run's work with augmentation on: its Plan's work, with the versions of each image the
    engine would embed; for a run recorded before Plans, its recommendation's estimate's work."""
    if plan is not None:
        work = plan.work
        dim = get_spec(plan.stats.model).feature_dim * work.networks
        views = augmented_views(work.epochs, max(1, work.labelled - work.val), dim)
        return replace(work, views=views) if work.frozen else work
    planned = (rec.get("estimates") or {}).get(recipe)
    try:
        work = Work(**planned["work"])
    except (TypeError, KeyError):
        return None
    return replace(work, views=min(work.epochs, MAX_VIEWS)) if work.frozen else work


def _augmented_time(plan: Plan | None, rec: dict, recipe: str) -> str:
    """" (about 40 s on this computer)": the run's own planned work, with augmentation on."""
    work = _augmented_work(plan, rec, recipe)
    return "" if work is None else ON_THIS_COMPUTER.format(time=estimate_work(work).words())


def _since_recommendation(cfg: TrainConfig, rec: dict | None, over: bool, plan: Plan | None) -> str:
    """What changed since the Strategy page's recommendation (``rec``; the Plan's, where the run
    recorded one), where the advice goes against it."""
    if not rec:
        return ""
    if over and cfg.augment == "none" and rec.get("augment") == "none" and not _of_texts(rec):
        return AUGMENTATION_SINCE.format(time=_augmented_time(plan, rec, cfg.recipe))
    stages = cfg.trainable_stages if isinstance(cfg.trainable_stages, int) else None
    if over and stages and stages > rec.get("trainable_stages", stages):
        return (f" You chose to train {stages} stage(s); the recommendation was {rec['trainable_stages']}, which "
                "memorises less with this many images.")
    if not over and stages == 0 and rec.get("trainable_stages") == 0:
        return (" The recommendation kept the network frozen, which is right for few images and fast; the "
                "held-out scores now show the frozen network's features are not enough for these images.")
    return ""


def _fit_advice(rows: list[dict], kept_epoch: int, cfg: TrainConfig, rec: dict | None,
                plan: Plan | None) -> list[str]:
    """Over- or under-fitting, judged at the epoch whose model was kept, with what changed since the
    recommendation where the advice goes against it."""
    kept = next((r for r in rows if r["epoch"] == kept_epoch), rows[-1])
    held = "cross-validated images" if kept["held_out"] == "cv" else "validation images"
    stages = cfg.trainable_stages if isinstance(cfg.trainable_stages, int) else 1
    out = []
    gap = kept["train_accuracy"] - kept["val_accuracy"]
    if gap > GAP:
        augmentable = cfg.augment == "none" and not _of_texts(rec)  # a text has no augmentation
        cures = (["train fewer stages"] if stages else []) + (["turn on augmentation"] if augmentable
                                                              else []) + ["add images"]
        cure = ", ".join(cures[:-1]) + (" or " if len(cures) > 1 else "") + cures[-1]
        out.append(OVER_FITTING.format(epoch=kept["epoch"], train=kept["train_accuracy"], held_out=kept["val_accuracy"],
                                       held=held, cure=cure, since=_since_recommendation(cfg, rec, True, plan)))
    elif kept["train_accuracy"] < 0.7 and kept["val_accuracy"] < 0.7:
        more = "train for more epochs" + ("" if stages else ", or train some stages of the network")
        since = _since_recommendation(cfg, rec, False, plan)
        out.append(f"Under-fitting: even on training images the kept model is right only "
                   f"{kept['train_accuracy']:.0%} of the time. To fix it, {more}.{since}")
    losses = [r["val_loss"] for r in rows if r["val_loss"] is not None]
    if len(losses) >= 4:
        best = min(range(len(losses)), key=losses.__getitem__)
        if best < len(losses) - 2 and losses[-1] > 1.1 * losses[best]:
            out.append(f"The held-out loss was lowest after epoch {rows[best]['epoch']} and rose afterwards. "
                       "Fewer epochs (or early stopping under Advanced) would save time.")
    return out


def _confusions(report: SplitMetrics, where: str, limit: int = 3) -> list[str]:
    classes, cm = report.classes, report.confusion_matrix
    pairs = []
    for i, row in enumerate(cm):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count and total and (count >= 2 or count / total >= 0.1):
                pairs.append((count / total, count, total, classes[i], classes[j]))
    return [f"'{t}' is often mistaken for '{p}' ({n} of {tot} {where}). More varied examples of both would help."
            for _, n, tot, t, p in sorted(pairs, reverse=True)[:limit]]


def _class_advice(report: SplitMetrics, counts: dict[str, int], weighting: bool) -> list[str]:
    out = []
    for name, scores in report.per_class.items():
        if scores["support"] and scores["recall"] < WEAK_RECALL:
            out.append(f"Class '{name}' is found only {scores['recall']:.0%} of the time; add more and more varied "
                       "images of it.")
    few = [c for c, n in counts.items() if n < FEW_IMAGES]
    if few:
        out.append(f"Few training images for {', '.join(repr(c) for c in few)} (under {FEW_IMAGES} each); "
                   "more images per class usually helps most.")
    if counts and not weighting and max(counts.values()) > 3 * max(1, min(counts.values())):
        out.append("Some classes have far more images than others; turn on class weighting under Advanced so "
                   "the rare ones count as much.")
    return out


def _of_texts(rec: dict | None) -> bool:
    """Whether the recommendation a run followed was made for texts."""
    return bool(rec) and rec.get("images_kind") == "text"


def _decided(record: RunRecord) -> tuple[TrainConfig, dict | None, Plan | None]:
    """The settings and the recommendation the run followed, and its Plan: the recorded Plan's, or for
    a run recorded before Plans (or whose Plan cannot be read), the record's own."""
    try:
        plan = None if record.plan is None else Plan.from_json(record.plan)
    except (TypeError, KeyError, ValueError, TLError):
        plan = None
    if plan is None:
        return record.config, record.recommendation, None
    return plan.config, plan.recommendation.to_json(), plan


def advise(run: RunDir, split: str | None = None) -> list[str]:
    """Sentences a non-expert can act on, about the kept model on ``split`` (the score's split by
    default), most important first; a reassuring one when nothing stands out. A text run's say texts."""
    rows = history(run)
    try:
        metrics: Metrics | None = run.metrics()
        cfg, rec, plan = _decided(run.record())
    except RecordError as e:
        return [str(e)]
    if not rows or metrics is None:
        return ["The run has not finished an epoch yet; advice appears once it has."]
    split = split or metrics.score.split
    report = metrics.split(split)
    where = SPLITS[split] if split != "cv" else "images, cross-validated"
    counts = Dataset.load(run.dataset_path).counts("train") if run.dataset_path.is_file() else {}
    out = list(metrics.warnings) + _fit_advice(rows, metrics.kept_epoch, cfg, rec, plan)
    out += _confusions(report, where) + _class_advice(report, counts, cfg.class_weighting)
    if report.count < 10 * len(report.classes) and split != "cv":
        out.append(f"This score rests on only {report.count} {SPLITS[split]}, so it can move by several points "
                   "from one run to the next.")
    out = out or [f"No problems stand out: {report.accuracy:.0%} of {where} are classified correctly and "
                  "training and held-out scores agree."]
    return [in_texts(tip) for tip in out] if _of_texts(rec) else out
