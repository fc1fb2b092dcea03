"""Are the confidence and the "not sure" default right? Calibration and threshold on test images.

    python bench/judge_calibration.py            # 21 draws: digits, Fashion-MNIST, clip art at 15 and 50 a class
    python bench/judge_calibration.py --quick    # 2 draws, small test sets (under a minute on 2 idle cores)
    python bench/judge_calibration.py --texts    # the text set alone: 10 draws (about a minute once its
                                                 # features are cached)

Each draw is saved as class folders with a test/ split, the way bench/quality.py does, and trained
by the command line with every choice left to the default recipe. On its test images (never used
for training, for the temperature or its nested check) the benchmark reads the calibration error
of the raw probabilities (T = 1) and of the shipped ones, and what the shipped default "not sure"
threshold does: the share of test answers it keeps (coverage) and how often those were right.

Texts: the development set of bench/quality_text.py (Debian package descriptions by section), the
same 5 draws at 15 and 50 texts a class, through a frozen text run's own features and heads
(bench/text_heads.py): the temperature decided on the cross-validated logits, the saved head scored
on the 600 fixed test texts.

Done when: shipped calibration error <= raw in at least 90% of draws and lower on average; the
default threshold keeps at least 80% of test answers in every draw (for images and texts each).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import clipart_files, digits_arrays, draw, fashion_arrays  # noqa: E402
from bench.quality import _copy_files, _engine, _save_arrays  # noqa: E402
from tlcore.workspace import ENV_VAR  # noqa: E402

# (set, images a class, draws); 4 + 4 + 4 + 3 + 3 + 3 = 21 draws in all
SETTINGS = [("digits", 15, 4), ("fashion", 15, 4), ("clipart", 15, 4),
            ("digits", 50, 3), ("fashion", 50, 3), ("clipart", 50, 3)]
QUICK = [("digits", 15, 1), ("clipart", 15, 1)]
TEST_CAP = {"digits": 30, "fashion": 30, "clipart": 40}  # test images a class at most (quick: 10)
CLIPART_50_MIN = 70  # at 50 a class, clip art uses the classes with at least this many images (5 of 8)
NAMES = {"digits": "digits", "fashion": "Fashion-MNIST", "clipart": "clip art", "texts": "software descriptions"}
TEXTS = [(15, 5), (50, 5)]  # (texts a class, draws): the draws bench/quality_text.py scores; quick: one at 15


def _text_one(data, per_class: int, seed: int) -> dict:
    """One draw of the text set (bench/text_heads.py) as a default frozen text run ships it: the
    temperature decided on the cross-validated logits (tlcore.training.calibration.calibrate, as
    finish_run calls it), then the saved head's raw and shipped probabilities on the fixed test texts."""
    import torch

    from bench.text_heads import held_out_logits, test_logits
    from tlcore.config import TrainConfig
    from tlcore.training.calibration import calibrate, expected_calibration_error

    start = time.perf_counter()
    train = data.draw(per_class, seed)
    x, y, classes = data.features[train], data.labels[train], len(data.classes)
    cal = calibrate(held_out_logits(x, y, data.names, classes), y, seed=TrainConfig(data="benchmark").seed)
    z = torch.from_numpy(test_logits(x, y, data.names, classes, data.features[data.test]))
    truth = data.labels[data.test]
    raw, shipped = ((z.double() / t).softmax(1).float().numpy() for t in (1.0, cal["temperature"]))
    return {"accuracy": float(np.mean(raw.argmax(1) == truth)), "seconds": time.perf_counter() - start,
            "recipe": "text", "test_images": len(truth), "kept_temperature": cal["kept"],
            "temperature": cal["temperature"], "reason": cal["reason"],
            "ece_raw": expected_calibration_error(raw, truth),
            "ece_shipped": expected_calibration_error(shipped, truth),
            "nested_ece": [cal["ece_before"], cal["ece_after"]],
            "nested_log_loss": [cal["log_loss_before"], cal["log_loss_after"]],
            "threshold": 0.0, "coverage": 1.0, "precision": float(np.mean(shipped.argmax(1) == truth))}


def text_draws(quick: bool) -> dict[str, list[dict]]:
    """The text set's draws, keyed like the image sets' ("texts-15")."""
    from bench.text_heads import load

    data, draws = load(), {}
    for per_class, count in [(15, 1)] if quick else TEXTS:
        for seed in range(count):
            draws.setdefault(f"texts-{per_class}", []).append(_text_one(data, per_class, seed))
            print(f"texts-{per_class} draw {seed}: {json.dumps(draws[f'texts-{per_class}'][-1])}", file=sys.stderr,
                  flush=True)
    return draws


def _folders(name: str, per_class: int, seed: int, quick: bool, base: Path) -> tuple[Path, Path]:
    """One seeded draw saved as train/ and test/ class folders of PNG files."""
    cap = 10 if quick else TEST_CAP[name]
    if name == "fashion":
        x, y, tx, ty, names = fashion_arrays()
        train, _ = draw(y, per_class, seed)
        test, _ = draw(ty, cap, 100 + seed)
        return _save_arrays(base / "train", x, y, names, train), _save_arrays(base / "test", tx, ty, names, test)
    if name == "digits":
        x, y, names = digits_arrays()
        train, test = draw(y, per_class, seed, test_cap=cap)
        return _save_arrays(base / "train", x, y, names, train), _save_arrays(base / "test", x, y, names, test)
    files, y, names = clipart_files()
    small = np.flatnonzero(np.bincount(y) < CLIPART_50_MIN) if per_class >= 50 else np.array([], int)
    train, test = draw(y, per_class, seed, test_cap=cap, exclude=np.flatnonzero(np.isin(y, small)))
    return _copy_files(base / "train", files, y, names, train), _copy_files(base / "test", files, y, names, test)


def _one(train: Path, test: Path, out: Path) -> dict:
    """Train with the default recipe and read what it ships, measured on the test images."""
    timing = _engine(train, test, out, [])
    cal = json.loads((out / "metrics.json").read_text())["calibration"]
    below = json.loads((out / "bundle" / "model.json").read_text())["not_sure_below"]
    rows = list(csv.DictReader((out / "predictions-test.csv").open()))
    kept = [r for r in rows if float(r["confidence"]) >= below]
    return {"accuracy": timing["accuracy"], "seconds": timing["seconds"], "recipe": timing["recipe"],
            "test_images": len(rows), "kept_temperature": cal["kept"], "temperature": cal["temperature"],
            "reason": cal["reason"], "ece_raw": cal["test_ece_before"], "ece_shipped": cal["test_ece_after"],
            "nested_ece": [cal["ece_before"], cal["ece_after"]],
            "nested_log_loss": [cal["log_loss_before"], cal["log_loss_after"]],
            "threshold": below, "coverage": len(kept) / len(rows),
            "precision": float(np.mean([r["true"] == r["predicted"] for r in kept])) if kept else None}


def _summary(draws: list[dict]) -> dict:
    raw, shipped = np.array([d["ece_raw"] for d in draws]), np.array([d["ece_shipped"] for d in draws])
    return {"draws": len(draws), "kept": int(sum(d["kept_temperature"] for d in draws)),
            "accuracy": float(np.mean([d["accuracy"] for d in draws])),
            "test_images": float(np.mean([d["test_images"] for d in draws])),
            "ece_raw": float(raw.mean()), "ece_shipped": float(shipped.mean()),
            "no_worse": float(np.mean(shipped <= raw + 1e-9)),
            "coverage_min": float(min(d["coverage"] for d in draws)),
            "coverage_mean": float(np.mean([d["coverage"] for d in draws])),
            "precision_mean": float(np.mean([d["precision"] for d in draws if d["precision"] is not None]))}


def holds(overall: dict) -> bool:
    """The calibration bar: shipped no worse than raw in at least 90% of draws, and lower on average."""
    return overall["no_worse"] >= 0.9 and overall["ece_shipped"] < overall["ece_raw"]


def _table(rows: dict, overall: dict | None, texts: dict | None = None) -> str:
    lines = ["### Calibration and the default \"not sure\" threshold, on test images and texts", "",
             "| set | a class | draws | test images | accuracy | temperature kept | test ECE raw | test ECE shipped "
             "| shipped <= raw | default threshold keeps (min / mean) | kept answers right |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    overalls = [(k, v) for k, v in (("all images", overall), ("all texts", texts)) if v is not None]
    for key, s in [*rows.items(), *overalls]:
        name, per_class = (key.rsplit("-", 1) + [""])[:2] if key not in dict(overalls) else (key, "")
        lines.append(f"| {NAMES.get(name, name)} | {per_class} | {s['draws']} | {s['test_images']:.0f} | "
                     f"{s['accuracy']:.1%} | {s['kept']}/{s['draws']} | {s['ece_raw']:.2%} | {s['ece_shipped']:.2%} | "
                     f"{s['no_worse']:.0%} | {s['coverage_min']:.0%} / {s['coverage_mean']:.0%} | "
                     f"{s['precision_mean']:.1%} |")
    for unit, o in overalls:
        lines += ["", f"{unit.capitalize()}: shipped ECE no worse than raw in {o['no_worse']:.0%} of draws (needs "
                  f">= 90%), mean {o['ece_shipped']:.2%} vs {o['ece_raw']:.2%} raw (needs lower): "
                  f"{'holds' if holds(o) else 'does not hold'}. The default threshold keeps at least "
                  f"{o['coverage_min']:.0%} of test answers in every draw (needs >= 80%): "
                  f"{'holds' if o['coverage_min'] >= 0.8 else 'does not hold'}."]
    return "\n".join(lines)


def report(quick: bool = False, images: bool = True) -> tuple[str, dict]:
    """Train every draw with the default recipe, then the text set's draws; (markdown table, raw numbers)."""
    draws: dict[str, list[dict]] = {}
    started = time.perf_counter()
    saved = os.environ.get(ENV_VAR)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[ENV_VAR] = str(Path(tmp) / "workspace")
        try:
            for name, per_class, count in (QUICK if quick else SETTINGS) if images else []:
                key = f"{name}-{per_class}"
                for seed in range(count):
                    base = Path(tmp) / f"{key}-{seed}"
                    train, test = _folders(name, per_class, seed, quick, base)
                    draws.setdefault(key, []).append(_one(train, test, base / "run"))
                    print(f"{key} draw {seed}: {json.dumps(draws[key][-1])}", file=sys.stderr, flush=True)
        finally:
            if saved is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = saved
    text = text_draws(quick)
    rows = {key: _summary(d) for key, d in {**draws, **text}.items()}
    overall = _summary([d for ds in draws.values() for d in ds]) if draws else None
    texts = _summary([d for ds in text.values() for d in ds])
    raw = {"rows": rows, "overall": overall, "texts": texts, "draws": {**draws, **text}, "quick": quick,
           "seconds": time.perf_counter() - started, "text_done": holds(texts) and texts["coverage_min"] >= 0.8}
    if overall is not None:
        raw["done"] = {"ece_no_worse_90": overall["no_worse"] >= 0.9, "ece_better_mean": overall["ece_shipped"] <
                       overall["ece_raw"], "threshold_keeps_80": overall["coverage_min"] >= 0.8}
    return _table(rows, overall, texts), raw


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 draws and small test sets")
    p.add_argument("--texts", action="store_true", help="the text set alone")
    p.add_argument("--json", help="also write the raw numbers to this file")
    args = p.parse_args()
    table, raw = report(quick=args.quick, images=not args.texts)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=2, sort_keys=True))
    print(table)


if __name__ == "__main__":
    main()
