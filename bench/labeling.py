"""Labelling with the model: how many labels the studio's order saves, with an oracle for a user.

    python bench/labeling.py                  # digits (pixels), digits, Fashion-MNIST and clip art (Lite0); 5 seeds
    python bench/labeling.py --sets digits-pixels --seeds 2   # a quick look
    python bench/labeling.py --sets clipart digits --seeds 3 --first-seed 5 --typical-until 15   # tuning seeds
    python bench/labeling.py --seed-list 0 1 2 3 4 10 11 12 13 14   # ten seeds, none used for tuning

Each set is a fixed pool of unlabelled images and a fixed test set, both with true labels. A seed draws
2 labelled images a class from the pool; the "user" then labels batches of 10 until 200 labels, in the
studio's order (tlcore.training.suggest.suggest: the frozen head, calibrated, ordered by
tlcore.training.labelling_order) or in a random order of the same pool from the same start. After each
batch the frozen head is trained on the labels so far and scored on the test set. "Full pool" is the
head trained on the whole pool with its true labels. Labels needed: the first count at which the mean
accuracy over seeds reaches 95% of the full pool's; where an order has not reached it by 200, it goes on
in batches of 10 (up to EXTEND_TO). Mean accuracy up to 200: over every count from the start to 200
labels (the area under the learning curve); near the target the curves are flat, so labels needed
moves by batches with small changes of the curve, and this figure does not. Bulk accept: at 200
labels in the studio's order, the precision "accept all at least X% sure" claims (cross-validated on
the labelled images, as the studio states it) and the precision it has on the rest of the pool.

Clip art: five top-level category folders of Debian's openclipart-png (animals, food, people,
recreation, transportation: every PNG under each, read as the engine reads them), built at bench time
from /usr/share/openclipart/png (``apt-get install openclipart-png``), CLIPART_POOL a class as the pool
and CLIPART_TEST a class as the test set, a fixed draw.

The images' features are the studio's (EfficientNet-Lite0, through FeatureNorm, by the engine's own
Embedder), computed once and cached as .npy under --cache. The time a retrain takes: bench/label_speed.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import CLIPART_DIR, clipart_files, digits_arrays, draw, fashion_arrays  # noqa: E402

SETS = ("digits-pixels", "digits", "fashion", "clipart")
START_PER_CLASS, BATCH, LABELS = 2, 10, 200
CHECKPOINTS = (50, 100, 200)
EXTEND_TO = 1000
THRESHOLDS = (0.80, 0.90, 0.95)
SHARE = 0.95  # of the full pool's accuracy
FASHION_POOL, FASHION_TEST = 200, 100  # images a class
CLIPART_CLASSES = ("animals", "food", "people", "recreation", "transportation")  # 316-614 PNGs each
CLIPART_POOL, CLIPART_TEST = 200, 60  # images a class


def _features(images) -> np.ndarray:
    """The fastest recipe's features of uint8 grey images [N, H, W] (or image files), as a default
    run computes them."""
    from bench.judge_labels import Features, _png, decoded
    from tlcore.config import FASTEST

    features = Features(FASTEST)
    source = (lambda im: im) if isinstance(images, list) else _png
    out = [features(decoded([source(im) for im in images[i:i + 256]], features.size)).numpy()
           for i in range(0, len(images), 256)]
    return np.concatenate(out).astype(np.float32)


def _pixels(images: np.ndarray) -> np.ndarray:
    """Pixels through FeatureNorm, as the head sees a frozen network's features."""
    import torch

    from tlcore.models.net import FeatureNorm

    return FeatureNorm()(torch.as_tensor(images.reshape(len(images), -1), dtype=torch.float32)).numpy()


def _cached(cache: Path, name: str, images) -> np.ndarray:
    path = cache / f"{name}-lite0-{len(images)}.npy"
    if not path.is_file():
        start = time.perf_counter()
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, _features(images))
        print(f"{name}: features of {len(images)} images in {time.perf_counter() - start:.0f} s -> {path}",
              flush=True)
    return np.load(path)


def load_set(name: str, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(pool features, pool labels, test features, test labels, class names) of a set."""
    if name.startswith("digits"):
        images, y, names = digits_arrays()
        _, test = draw(y, 0, seed=7)  # a fixed split: 50 a class for the test set
        test_idx = np.concatenate([test[y[test] == c][:50] for c in range(len(names))])
        pool = np.setdiff1d(np.arange(len(y)), test_idx)
        x = _pixels(images) if name == "digits-pixels" else _cached(cache, "digits", images)
        return x[pool], y[pool], x[test_idx], y[test_idx], names
    if name == "fashion":
        x, y, tx, ty, names = fashion_arrays()
        pool, _ = draw(y, FASHION_POOL, seed=7)
        _, test = draw(ty, 0, seed=7, test_cap=FASHION_TEST)
        both = _cached(cache, "fashion", np.concatenate([x[pool], tx[test]]))
        return both[:len(pool)], y[pool], both[len(pool):], ty[test], names
    if name == "clipart":
        if not CLIPART_DIR.is_dir():
            raise SystemExit("The clip-art set needs Debian's openclipart-png: apt-get install openclipart-png")
        files, y, names = clipart_files(CLIPART_CLASSES, "**/*.png")
        pool, rest = draw(y, CLIPART_POOL, seed=7)
        test = np.concatenate([rest[y[rest] == c][:CLIPART_TEST] for c in range(len(names))])
        both = _cached(cache, "clipart", [files[i] for i in np.concatenate([pool, test])])
        return both[:len(pool)], y[pool], both[len(pool):], y[test], names
    raise SystemExit(f"Unknown set {name!r}; choose from {', '.join(SETS)}")


def accuracy(x, y, tx, ty, classes: int, seed: int) -> float:
    from tlcore.training.suggest import fit_head, head_logits

    return float((head_logits(fit_head(x, y, classes, seed), tx).argmax(1) == ty).mean())


def next_batch(order: str, x, y, labelled: np.ndarray, names: list[str], seed: int, size: int,
               rng: np.random.Generator):
    """The pool indices the user labels next, and the studio's suggestions when it ordered them."""
    from tlcore.training.suggest import suggest

    rest = np.setdiff1d(np.arange(len(y)), labelled)
    if order == "random":
        return rng.choice(rest, size=min(size, len(rest)), replace=False), None
    s = suggest(x[labelled], y[labelled], x[rest], names, seed, size)
    return rest[s.order[:size]], (s, rest)


def bulk_accept(s, rest: np.ndarray, y: np.ndarray) -> list[dict]:
    """At each threshold: what the studio would state (held-out precision) and what the pool holds."""
    rows = []
    for t in THRESHOLDS:
        claim, sure = s.accept(t), s.probability >= t
        rows.append({"threshold": t, "claimed": claim["precision"], "pool_accepted": int(sure.sum()),
                     "pool_share": float(sure.mean()),
                     "pool_precision": float((s.suggested[sure] == y[rest][sure]).mean()) if sure.any() else None})
    return rows


def run_order(order: str, x, y, tx, ty, names, seed: int) -> dict:
    """One simulated user: accuracy after each batch up to LABELS, and the labelled state."""
    start, _ = draw(y, START_PER_CLASS, seed)
    labelled, rng = np.sort(start), np.random.default_rng(seed + 1)
    curve, bulk = {}, None
    while True:
        curve[len(labelled)] = accuracy(x[labelled], y[labelled], tx, ty, len(names), seed)
        if len(labelled) >= LABELS:
            break
        picked, _ = next_batch(order, x, y, labelled, names, seed, BATCH, rng)
        labelled = np.concatenate([labelled, picked])
    if order == "studio":
        s, rest = next_batch(order, x, y, labelled, names, seed, BATCH, rng)[1]
        bulk = bulk_accept(s, rest, y)
    return {"curve": curve, "labelled": labelled, "rng": rng, "bulk": bulk}


def extend(run: dict, order: str, x, y, tx, ty, names, seed: int, upto: int) -> None:
    """Go on labelling in batches of BATCH to ``upto`` labels."""
    labelled = run["labelled"]
    while len(labelled) < min(upto, len(y)):
        picked, _ = next_batch(order, x, y, labelled, names, seed, BATCH, run["rng"])
        labelled = np.concatenate([labelled, picked])
        run["curve"][len(labelled)] = accuracy(x[labelled], y[labelled], tx, ty, len(names), seed)
    run["labelled"] = labelled


def needed(curves: list[dict], target: float) -> int | None:
    """The first label count whose mean accuracy over seeds reaches ``target``."""
    counts = sorted(set.intersection(*(set(c) for c in curves)))
    return next((n for n in counts if statistics.mean(c[n] for c in curves) >= target), None)


def mean_to(curves: list[dict], labels: int) -> float:
    """The mean accuracy over seeds and over every count up to ``labels`` (the area under the
    learning curve, per count): unlike labels needed, not decided by one crossing of a flat curve."""
    return statistics.mean(statistics.mean(c[n] for c in curves) for n in curves[0] if n <= labels)


def bench_set(name: str, seeds: list[int], cache: Path, orders: tuple[str, ...] = ("studio", "random"),
              log=print) -> dict:
    x, y, tx, ty, names = load_set(name, cache)
    full = statistics.mean(accuracy(x, y, tx, ty, len(names), s) for s in seeds)
    target = SHARE * full
    out = {"set": name, "pool": len(y), "test": len(ty), "seeds": list(seeds), "full_pool_accuracy": full,
           "target": target}
    for order in orders:
        runs = [run_order(order, x, y, tx, ty, names, s) for s in seeds]
        upto = LABELS
        while needed([r["curve"] for r in runs], target) is None and upto < min(EXTEND_TO, len(y)):
            upto += BATCH
            for s, r in zip(seeds, runs):
                extend(r, order, x, y, tx, ty, names, s, upto)
        curves = [r["curve"] for r in runs]
        out[order] = {"needed": needed(curves, target),
                      "at": {n: statistics.mean(c[n] for c in curves) for n in CHECKPOINTS},
                      "mean_to_200": mean_to(curves, LABELS), "curves": curves}
        if order == "studio":
            out["bulk"] = [{k: _mean([r["bulk"][i][k] for r in runs]) if k != "threshold" else t
                            for k in runs[0]["bulk"][i]} for i, t in enumerate(THRESHOLDS)]
        log(f"{name} {order}: {json.dumps({k: v for k, v in out[order].items() if k != 'curves'})}")
    s_need, r_need = (out.get(o, {}).get("needed") for o in ("studio", "random"))
    out["ratio"] = s_need / r_need if s_need and r_need else None
    return out


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.mean(kept) if kept else None


def table(results: list[dict]) -> str:
    """The README's markdown table."""
    lines = ["| set (pool) | full-pool acc. | labels to 95% of it: studio / random (ratio) "
             "| acc. at 50 | at 100 | at 200 | mean acc. up to 200 (studio / random) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        need = lambda o: r[o]["needed"] or f">{EXTEND_TO}"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] else "-"
        at = [f"{r['studio']['at'][n]:.1%} / {r['random']['at'][n]:.1%}" for n in CHECKPOINTS]
        at.append(f"{r['studio']['mean_to_200']:.1%} / {r['random']['mean_to_200']:.1%}")
        lines.append(f"| {r['set']} ({r['pool']}) | {r['full_pool_accuracy']:.1%} | {need('studio')} / "
                     f"{need('random')} ({ratio}) | " + " | ".join(at) + " |")
    lines += ["", "| set | accept at least | precision stated (held-out labels) | precision on the pool "
              "| pool accepted |", "|---|---|---|---|---|"]
    for r in results:
        for b in r["bulk"]:
            claimed = f"{b['claimed']:.1%}" if b["claimed"] is not None else "withheld"
            pool = f"{b['pool_precision']:.1%}" if b["pool_precision"] is not None else "-"
            lines.append(f"| {r['set']} | {b['threshold']:.0%} | {claimed} | {pool} | {b['pool_share']:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="tune on seeds past the reported ones")
    parser.add_argument("--seed-list", type=int, nargs="+", help="these seeds instead of --seeds from --first-seed")
    parser.add_argument("--per-pick", type=int, default=None, help="candidates a pick (tuning)")
    parser.add_argument("--typical-until", type=float, default=None, help="labels a class with typical images (tuning)")
    parser.add_argument("--orders", nargs="+", default=["studio", "random"], choices=["studio", "random"])
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "labeling")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "labeling.json")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from tlcore.training import labelling_order

    if args.per_pick:
        labelling_order.CANDIDATES_PER_PICK = args.per_pick

    if args.typical_until:
        labelling_order.TYPICAL_UNTIL = args.typical_until
    with threadpool_limits(1):  # as tlcore.training.suggest trains: tiny matrices, one thread
        seeds = args.seed_list or list(range(args.first_seed, args.first_seed + args.seeds))
        results = [bench_set(name, seeds, args.cache, tuple(args.orders)) for name in args.sets]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "load": os.getloadavg()}, indent=2, default=str))
    if args.orders == ["studio", "random"]:
        print(table(results))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")


if __name__ == "__main__":
    main()
