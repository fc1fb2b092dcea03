"""The end of a run: final metrics, validation predictions and the model bundle."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from tlcore.bundle import load_bundle, save_bundle
from tlcore.config import TrainConfig
from tlcore.inputs import Inputs
from tlcore.loop import predict_logits
from tlcore.metrics import classification_metrics
from tlcore.atomic import atomic_write_bytes, atomic_write_json
from tlcore.rundir import RunDir


def predictions_csv(files: list[str], y: torch.Tensor, probs: torch.Tensor, classes: list[str]) -> bytes:
    """One row per image: file, true class, predicted class, confidence, then every probability."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["file", "true", "predicted", "confidence"] + [f"p_{c}" for c in classes])
    for f, t, p in zip(files, y.tolist(), probs.tolist()):
        best = max(range(len(classes)), key=p.__getitem__)
        writer.writerow([f, classes[t], classes[best], f"{p[best]:.6f}"] + [f"{v:.6f}" for v in p])
    return buf.getvalue().encode()


def growth_report(parent_run: str, inputs: Inputs, predicted: torch.Tensor, batch_size: int) -> dict:
    """For a model grown from an earlier run: validation accuracy on the classes it already knew,
    before (the earlier model) and after, and on the classes it learned now."""
    parent, meta = load_bundle(Path(parent_run) / "bundle")
    classes, truth = inputs.classes, inputs.val.y
    old = torch.tensor([classes[t] in meta["classes"] for t in truth.tolist()], dtype=torch.bool)
    before = None
    if old.any():
        device = inputs.prep.device
        logits = predict_logits(parent.to(device), inputs.val.x[old], inputs.prep, batch_size, device)
        names = [meta["classes"][i] for i in logits.argmax(1).tolist()]
        before = sum(n == classes[t] for n, t in zip(names, truth[old].tolist())) / int(old.sum())
    hit = predicted == truth

    def share(mask: torch.Tensor) -> float | None:
        return float(hit[mask].float().mean()) if mask.any() else None

    return {"old_classes": [c for c in classes if c in meta["classes"]],
            "new_classes": [c for c in classes if c not in meta["classes"]],
            "removed_classes": [c for c in meta["classes"] if c not in classes],
            "old_accuracy_before": before, "old_accuracy_after": share(old), "new_accuracy": share(~old)}


def finish_run(run: RunDir, cfg: TrainConfig, inputs: Inputs, val_logits: torch.Tensor,
               test_logits: torch.Tensor | None, trainable_stages: int, kept_epoch: int) -> dict:
    """Write metrics.json, predictions.csv and bundle/ for the (best) trained network."""
    classes = inputs.classes
    val_probs = val_logits.softmax(1)
    metrics = {"val": classification_metrics(inputs.val.y.tolist(), val_probs.argmax(1).tolist(), classes),
               "kept_epoch": kept_epoch}
    atomic_write_bytes(run.predictions_path, predictions_csv(inputs.val.files, inputs.val.y, val_probs, classes))
    if cfg.init_from:
        metrics["growth"] = growth_report(cfg.init_from, inputs, val_probs.argmax(1), cfg.batch_size)
    if inputs.test is not None and test_logits is not None:
        metrics["test"] = classification_metrics(inputs.test.y.tolist(), test_logits.argmax(1).tolist(), classes)
    save_bundle(run.bundle_path, inputs.net, classes, inputs.spec.name, inputs.image_size,
                extra={"trainable_stages": trainable_stages, "train_bn": cfg.train_bn,
                       "run": run.name, "epoch": kept_epoch, "config": cfg.to_json()})
    atomic_write_json(run.metrics_path, metrics)
    return metrics
