"""Advice in plain words from a run's curves, scores and data."""

from __future__ import annotations

from tlcore.dataset import Dataset
from tlcore.rundir import RunDir
from tlcore.runs import history

FEW_IMAGES = 20
GAP = 0.15  # train minus validation accuracy that signals memorising
WEAK_RECALL = 0.6


def _fit_advice(rows: list[dict]) -> list[str]:
    last = rows[-1]
    out = []
    gap = last["train_accuracy"] - last["val_accuracy"]
    if gap > GAP:
        out.append(f"Over-fitting: the model gets {last['train_accuracy']:.0%} of training images right but only "
                   f"{last['val_accuracy']:.0%} of new ones, so it is memorising. Freeze more stages, turn on "
                   "augmentation, or add images.")
    elif last["train_accuracy"] < 0.7 and last["val_accuracy"] < 0.7:
        out.append(f"Under-fitting: even on training images the model is right only {last['train_accuracy']:.0%} "
                   "of the time. Train for more epochs or train more stages.")
    losses = [r["val_loss"] for r in rows if r["val_loss"] is not None]
    if len(losses) >= 4:
        best = min(range(len(losses)), key=losses.__getitem__)
        if best < len(losses) - 2 and losses[-1] > 1.1 * losses[best]:
            out.append(f"The validation loss was lowest after epoch {rows[best]['epoch']} and rose afterwards; the "
                       "model from that epoch was kept. Fewer epochs (or early stopping) would save time.")
    return out


def _confusions(metrics: dict, limit: int = 3) -> list[str]:
    classes, cm = metrics["classes"], metrics["confusion_matrix"]
    pairs = []
    for i, row in enumerate(cm):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count and total and (count >= 2 or count / total >= 0.1):
                pairs.append((count / total, count, total, classes[i], classes[j]))
    return [f"'{t}' is often mistaken for '{p}' ({n} of {tot} validation images). More varied examples "
            "of both would help." for _, n, tot, t, p in sorted(pairs, reverse=True)[:limit]]


def _class_advice(metrics: dict, counts: dict[str, int]) -> list[str]:
    out = []
    for name, scores in metrics["per_class"].items():
        if scores["support"] and scores["recall"] < WEAK_RECALL:
            out.append(f"Class '{name}' is found only {scores['recall']:.0%} of the time; add more and more varied "
                       "images of it.")
    few = [c for c, n in counts.items() if n < FEW_IMAGES]
    if few:
        out.append(f"Few training images for {', '.join(repr(c) for c in few)} (under {FEW_IMAGES} each); "
                   "more images per class usually helps most.")
    return out


def advise(run: RunDir) -> list[str]:
    """Sentences a non-expert can act on; a reassuring one when nothing stands out."""
    rows = history(run)
    metrics = (run.metrics() or {}).get("val")
    if not rows or metrics is None:
        return ["The run has not finished an epoch yet; advice appears once it has."]
    counts = Dataset.load(run.dataset_path).counts("train") if run.dataset_path.is_file() else {}
    out = _fit_advice(rows) + _confusions(metrics) + _class_advice(metrics, counts)
    if metrics["count"] < 10 * len(metrics["classes"]):
        out.append(f"The scores rest on only {metrics['count']} validation images, so they can move by several "
                   "points from one run to the next.")
    return out or [f"No problems stand out: {metrics['accuracy']:.0%} of validation images are classified "
                   "correctly and training and validation scores agree."]
