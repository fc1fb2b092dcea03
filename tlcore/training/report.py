"""The end of a run: calibration, the kept model's scores on every held-out split, predictions,
images probably labelled wrong, and what the model bundle says of itself. It writes nothing: the
run folder keeps what ``finish_run`` returns (``tlcore.jobs.recorder``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace

import torch

from tlcore.data.portable import spreadsheet_safe
from tlcore.data.dataset import Dataset
from tlcore.models.bundle import load_bundle
from tlcore.models.bundle_paths import run_bundle
from tlcore.training.calibration import calibrate, coverage_table, expected_calibration_error, reliability
from tlcore.config import TrainConfig
from tlcore.training.estimate import wilson_interval
from tlcore.training.inputs import Inputs
from tlcore.training.label_issues import label_check
from tlcore.training.leaks import scored_copies
from tlcore.training.loop import predict_logits
from tlcore.training.metrics import classification_metrics
from tlcore.record import Metrics, Score, SplitMetrics

METHODS = {"val": "validation split", "test": "test images"}


@dataclass
class Scored:
    """The kept model's logits on one held-out split ("val", "cv" out-of-fold, or "test")."""

    split: str
    logits: torch.Tensor
    y: torch.Tensor
    files: list[str]


@dataclass
class Finished:
    """A finished run's results: its metrics, each held-out split's predictions (CSV) and what the
    model bundle records beside the weights (``tlcore.models.bundle.save_bundle``'s ``extra``)."""

    metrics: Metrics
    predictions: dict[str, bytes]
    bundle: dict


def predictions_csv(files: list[str], y: torch.Tensor, probs: torch.Tensor, classes: list[str]) -> bytes:
    """One row per image: file, true class, predicted class, confidence, then every probability
    (names and file names cannot become spreadsheet formulas: ``spreadsheet_safe``)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(map(spreadsheet_safe, ["file", "true", "predicted", "confidence"] + [f"p_{c}" for c in classes]))
    for f, t, p in zip(files, y.tolist(), probs.tolist()):
        best = max(range(len(classes)), key=p.__getitem__)
        writer.writerow(map(spreadsheet_safe, [f, classes[t], classes[best], f"{p[best]:.6f}"]
                            + [f"{v:.6f}" for v in p]))
    return buf.getvalue().encode()


def growth_report(parent_run: str, inputs: Inputs, predicted: torch.Tensor, batch_size: int) -> dict:
    """For a model grown from an earlier run: validation accuracy on the classes it already knew,
    before (the earlier model) and after, and on the classes it learned now."""
    parent, meta = load_bundle(run_bundle(parent_run).folder)
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


def score_of(split: str, report: SplitMetrics, folds: int = 0, unit: str = "images") -> Score:
    """Accuracy on a split with its 95% (Wilson) interval, counted in ``unit`` ("images" or "texts")."""
    low, high = wilson_interval(round(report.accuracy * report.count), report.count)
    method = f"{folds}-fold cross-validation" if split == "cv" else METHODS[split]
    return Score(split, report.accuracy, low, high, report.count, method, unit=unit)


def _issues(scored: Scored, classes: list[str], kind: str) -> tuple[list[dict], dict]:
    """Held-out images (or texts: ``kind``) whose given label the model finds unlikely, most suspicious
    first (none when the model is too weak for the list to be reliable), and that verdict
    (label_issues.label_check, with the benchmark of that kind). It reads the uncalibrated held-out
    logits: the finder's margin was measured on them."""
    rows, check = label_check(scored.y.numpy(), scored.logits.float().numpy(), kind)
    return [{"file": scored.files[r["index"]], "given": classes[r["given"]], "suggested": classes[r["suggested"]],
             "given_probability": r["given_probability"], "suggested_probability": r["suggested_probability"]}
            for r in rows], check


def _test_calibration(calibration: dict, test: Scored, probs: torch.Tensor) -> None:
    """Add the test images' calibration error raw (T = 1) and as shipped, with their reliability rows:
    the Evaluate page shows calibration on images it was not fitted on."""
    y, raw = test.y.numpy(), test.logits.double().softmax(1).float().numpy()  # as probs, bit for bit at T = 1
    calibration.update(test_ece_before=expected_calibration_error(raw, y),
                       test_ece_after=expected_calibration_error(probs.numpy(), y), bins_on="test",
                       bins_before=reliability(raw, y), bins_after=reliability(probs.numpy(), y))


def finish_run(cfg: TrainConfig, inputs: Inputs, held: Scored, test: Scored | None, trainable_stages: int,
               kept_epoch: int, warnings: list[str], dataset: Dataset | None, name: str) -> Finished:
    """Calibrate on the held-out split, then score every held-out split; ``dataset`` is the run's
    split dataset (its files' fingerprints, when known) and ``name`` the run's."""
    classes = inputs.classes
    calibration = {**calibrate(held.logits, held.y, seed=cfg.seed), "bins_on": held.split, "split": held.split}
    temperature = calibration["temperature"]
    reports, probs, predictions = {}, {}, {}
    for part in filter(None, (held, test)):
        probs[part.split] = (part.logits.double() / temperature).softmax(1).float()
        reports[part.split] = SplitMetrics(**classification_metrics(
            part.y.tolist(), probs[part.split].argmax(1).tolist(), classes))
        predictions[part.split] = predictions_csv(part.files, part.y, probs[part.split], classes)
    answered = test if test is not None and len(test.y) else held
    if answered is test:
        _test_calibration(calibration, test, probs["test"])
    calibration["coverage"] = coverage_table(probs[answered.split].numpy(), answered.y.numpy(), answered.split)
    folds = min(cfg.folds, int(torch.bincount(held.y).clamp(min=1).min())) if held.split == "cv" else 0
    copies = scored_copies(dataset, inputs, held.split)
    unit = "texts" if inputs.spec.kind == "text" else "images"
    estimate = replace(score_of(held.split, reports[held.split], folds, unit), copies=copies[held.split])
    growth = None
    if cfg.init_from and held.split == "val":
        growth = growth_report(cfg.init_from, inputs, probs["val"].argmax(1), cfg.batch_size)
    issues, checked = _issues(held, classes, inputs.spec.kind)
    metrics = Metrics(
        score=(replace(score_of("test", reports["test"], unit=unit), copies=copies["test"]) if test is not None
               else estimate),
        estimate=estimate,
        kept_epoch=kept_epoch, val=reports.get("val"), cv=reports.get("cv"), test=reports.get("test"),
        calibration=calibration, label_issues=issues, label_check=checked, growth=growth,
        warnings=list(warnings))
    bundle = {"trainable_stages": trainable_stages, "train_bn": cfg.train_bn, "run": name, "epoch": kept_epoch,
              "config": cfg.to_json(), "temperature": temperature, "not_sure_below": 0.0}
    return Finished(metrics, predictions, bundle)
