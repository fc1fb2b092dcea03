"""Advice in plain words from a run's curves, scores, settings and data."""

from __future__ import annotations

from tlcore.data.dataset import Dataset
from tlcore.record import SPLITS, Metrics, RecordError, SplitMetrics
from tlcore.rundir import RunDir
from tlcore.jobs.runs import history

FEW_IMAGES = 20
GAP = 0.15  # train minus held-out accuracy that signals memorising
WEAK_RECALL = 0.6


def _fit_advice(rows: list[dict], kept_epoch: int, stages: int) -> list[str]:
    """Over- or under-fitting, judged at the epoch whose model was kept."""
    kept = next((r for r in rows if r["epoch"] == kept_epoch), rows[-1])
    held = "cross-validated images" if kept["held_out"] == "cv" else "validation images"
    out = []
    gap = kept["train_accuracy"] - kept["val_accuracy"]
    if gap > GAP:
        cure = "turn on augmentation or add images" if stages == 0 else "train fewer stages, turn on augmentation, or add images"
        out.append(f"Over-fitting: the kept model (epoch {kept['epoch']}) gets {kept['train_accuracy']:.0%} of "
                   f"training images right but only {kept['val_accuracy']:.0%} of {held}, so it is memorising. "
                   f"To fix it, {cure}.")
    elif kept["train_accuracy"] < 0.7 and kept["val_accuracy"] < 0.7:
        more = "train for more epochs" + ("" if stages else ", or train some stages of the network")
        out.append(f"Under-fitting: even on training images the kept model is right only "
                   f"{kept['train_accuracy']:.0%} of the time. To fix it, {more}.")
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


def advise(run: RunDir, split: str | None = None) -> list[str]:
    """Sentences a non-expert can act on, about the kept model on ``split`` (the score's split by
    default), most important first; a reassuring one when nothing stands out."""
    rows = history(run)
    try:
        metrics: Metrics | None = run.metrics()
        cfg = run.record().config
    except RecordError as e:
        return [str(e)]
    if not rows or metrics is None:
        return ["The run has not finished an epoch yet; advice appears once it has."]
    split = split or metrics.score.split
    report = metrics.split(split)
    where = SPLITS[split] if split != "cv" else "images, cross-validated"
    stages = cfg.trainable_stages if isinstance(cfg.trainable_stages, int) else 1
    counts = Dataset.load(run.dataset_path).counts("train") if run.dataset_path.is_file() else {}
    out = list(metrics.warnings) + _fit_advice(rows, metrics.kept_epoch, stages)
    out += _confusions(report, where) + _class_advice(report, counts, cfg.class_weighting)
    if report.count < 10 * len(report.classes) and split != "cv":
        out.append(f"This score rests on only {report.count} {SPLITS[split]}, so it can move by several points "
                   "from one run to the next.")
    return out or [f"No problems stand out: {report.accuracy:.0%} of {where} are classified correctly and "
                   "training and held-out scores agree."]
