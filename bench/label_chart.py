"""The Label page's accuracy chart against the truth: which estimate of the model's accuracy it can show.

    python bench/label_chart.py                   # the four sets of bench/labeling.py and texts, seeds 0-4
    python bench/label_chart.py --sets digits --seeds 2   # a quick look

A simulated user labels in the studio's order (as bench/labeling.py: 2 a class to start, batches of 10
to 200 labels). After each batch, four estimates of the model's accuracy are set beside its accuracy on
the test set, which the page cannot know:
- "cross-validated on the labels": each labelled image scored by a head that did not see it (what the
  chart showed first). The images were picked because the model was unsure of them, so it reads low.
- "pool confidence": the mean calibrated probability of the suggested class over the unlabelled pool,
  the share of the pool's suggestions the model expects to be right (``Suggestions.expected_accuracy``,
  what the chart shows now).
- "pool confidence, not calibrated": the same with the head's own probabilities.
- "dataset confidence": the mean over the pool and the labelled images, each labelled image by the
  calibrated probability of its likeliest class from the head that did not see it (the pool left
  after many labels is the easy part; the labelled images are the hard part).
Reported per set, over the points from MIN_LABELLED (30) labels on, where the studio measures: the
mean error (estimate minus test accuracy, in points), the mean absolute error, the share of points
within 5 points, and how often the estimate moved the same way as the test accuracy from one batch
to the next.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import draw  # noqa: E402
from bench.labeling import BATCH, LABELS, SETS, START_PER_CLASS, accuracy, load_set  # noqa: E402
from tlcore.training.suggest import MIN_LABELLED  # noqa: E402

TEXT_POOL = 200  # texts a class in the text set's pool (the image sets' pools hold 130-200 a class)
ESTIMATES = ("cross-validated on the labels", "pool confidence", "pool confidence, not calibrated",
             "dataset confidence")


def estimates(s) -> dict:
    """The four estimates from one set of suggestions (None where not measured)."""
    from scipy.special import softmax

    raw = softmax(np.log(np.maximum(s.probs, 1e-300)) * s.temperature, axis=1).max(axis=1)
    held = float((s.held_probs.argmax(1) == s.labels).mean()) if s.held_probs is not None else None
    whole = (float(np.concatenate([s.probability, s.held_probs.max(axis=1)]).mean())
             if s.held_probs is not None else None)
    return dict(zip(ESTIMATES, (held, s.expected_accuracy(), float(raw.mean()), whole)))


def text_set() -> tuple:
    """The Debian package descriptions (bench/text_heads.py: a default frozen text run's features):
    TEXT_POOL a class of its training texts as the pool, its 600 fixed test texts as the test set."""
    from bench.text_heads import load

    data = load()
    pool = data.draw(TEXT_POOL, 7)
    return data.features[pool], data.labels[pool], data.features[data.test], data.labels[data.test], data.classes


def trajectory(x, y, tx, ty, names, seed: int) -> list[dict]:
    """One simulated user's points: labels, test accuracy and the estimates, after each batch."""
    from tlcore.training.suggest import suggest

    labelled, points = np.sort(draw(y, START_PER_CLASS, seed)[0]), []
    while len(labelled) <= LABELS:
        rest = np.setdiff1d(np.arange(len(y)), labelled)
        s = suggest(x[labelled], y[labelled], x[rest], names, seed, BATCH)
        points.append({"labels": len(labelled), "test": accuracy(x[labelled], y[labelled], tx, ty, len(names), seed),
                       **estimates(s)})
        labelled = np.concatenate([labelled, rest[s.order[:BATCH]]])
    return points


def summary(runs: list[list[dict]]) -> dict:
    """Per estimate: mean error and mean absolute error (points), share within 5 points, share of
    batch-to-batch moves in the test accuracy's direction (over points from MIN_LABELLED labels on)."""
    out = {}
    for name in ESTIMATES:
        errors, same = [], []
        for points in runs:
            kept = [p for p in points if p["labels"] >= MIN_LABELLED and p[name] is not None]
            errors += [100 * (p[name] - p["test"]) for p in kept]
            same += [bool(np.sign(b[name] - a[name]) == np.sign(b["test"] - a["test"])) for a, b in zip(kept, kept[1:])
                     if b["test"] != a["test"]]
        out[name] = {"bias": statistics.mean(errors), "mae": statistics.mean(abs(e) for e in errors),
                     "within_5": statistics.mean(abs(e) <= 5 for e in errors),
                     "same_direction": statistics.mean(same) if same else None, "points": len(errors)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=[*SETS, "texts"], choices=[*SETS, "texts"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "labeling")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "label_chart.json")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    results = {}
    with threadpool_limits(1):
        for name in args.sets:
            x, y, tx, ty, names = text_set() if name == "texts" else load_set(name, args.cache)
            runs = [trajectory(x, y, tx, ty, names, seed) for seed in range(args.seeds)]
            results[name] = {"summary": summary(runs), "runs": runs}
            print(name, json.dumps(results[name]["summary"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print("| set | estimate | mean error | mean abs. error | within 5 points | moves with the truth |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        for est, m in r["summary"].items():
            print(f"| {name} | {est} | {m['bias']:+.1f} | {m['mae']:.1f} | {m['within_5']:.0%} | "
                  f"{m['same_direction']:.0%} |")


if __name__ == "__main__":
    main()
