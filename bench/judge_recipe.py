"""Judging the recipe `auto` picks: its accuracy and time against the fastest recipe, and the time
estimate shown before Start against the time the run took.

    python bench/judge_recipe.py            # clip art, Fashion-MNIST, digits at 15 and 50 a class, and ~90 images
    python bench/judge_recipe.py --quick    # 90 digits, one draw

Each draw trains ``auto`` (every option left to the recommender), then the recipe it did not pick
(``--recipe fastest`` or ``--recipe most_accurate``), so both recipes are measured on every set, on
exactly the same training images, through the command line (bench/quality.py's draws and runner), each
timed from its process's start until it returns, in one fresh workspace shared by the whole benchmark,
so the first run of each recipe estimates from typical speeds and exports its network, and later runs
estimate from the earlier ones. Test sets are capped as in quality.py's quick mode (Fashion-MNIST 300,
digits 30 a class, clip art 20 a class). The 1-minute load average is read around each run: other
programs sharing the processor slow a run, and the estimate only knows the runs before it.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import _draws, _engine  # noqa: E402
from tlcore.training.recommend import RECIPE_GAIN, WAIT_SECONDS  # noqa: E402
from tlcore.workspace import ENV_VAR  # noqa: E402

RECIPES = ("fastest", "most_accurate")
# (set, images a class, draws): 90 greyscale and 88 colour images first, as the "90 images"
FULL = [("digits", 9, 2), ("clipart", 11, 2), ("clipart", 15, 2), ("fashion", 15, 2), ("digits", 15, 2),
        ("clipart", 50, 1), ("fashion", 50, 1), ("digits", 50, 1)]
QUICK = [("digits", 9, 1)]
NAMES = {"clipart": "clip art", "fashion": "Fashion-MNIST", "digits": "digits"}


def _run(train: Path, test: Path, out: Path, extra: list[str]) -> dict:
    """One command-line run with its estimate (made before it trained) and the load around it."""
    load = os.getloadavg()[0]
    row = _engine(train, test, out, extra)
    rec = json.loads((out / "config.json").read_text())["recommendation"]
    planned = rec["estimates"][row["recipe"]]
    return {**row, "estimate": planned["seconds"], "measured_runs": planned["measured"],
            "accurate_estimate": rec["estimates"].get("most_accurate", {}).get("seconds"),
            "load": round((load + os.getloadavg()[0]) / 2, 2), "images": planned["work"]["labelled"],
            "images_kind": rec.get("images_kind")}


def _measure(settings: list[tuple[str, int, int]], tmp: Path) -> dict:
    results: dict = {}
    for name, per_class, draws in settings:
        rows = []
        for d, (train, test) in enumerate(_draws(name, per_class, range(draws), True, tmp)):
            auto = _run(train, test, tmp / f"run-{name}-{per_class}-{d}-auto", [])
            other = next(r for r in RECIPES if r != auto["recipe"])
            pair = {"auto": auto, auto["recipe"]: auto,
                    other: _run(train, test, tmp / f"run-{name}-{per_class}-{d}-{other}", ["--recipe", other])}
            rows.append(pair)
            print(f"{name} {per_class}/class draw {d}: {json.dumps(pair)}", file=sys.stderr, flush=True)
        results[f"{name}-{per_class}"] = rows
    return results


def _mean(rows: list[dict], recipe: str, key: str) -> float:
    return statistics.fmean(r[recipe][key] for r in rows)


def _table(results: dict) -> tuple[str, dict]:
    lines = ["| set | images | auto made | most accurate | fastest | gain | most accurate's time | fastest's time | "
             "estimate / actual (most accurate; fastest) | load |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    summary = {}
    for key, rows in results.items():
        name, per_class = key.rsplit("-", 1)
        accurate = sum(r["auto"]["recipe"] == "most_accurate" for r in rows)
        ratio = {rc: [r[rc]["estimate"] / r[rc]["seconds"] for r in rows] for rc in RECIPES}
        gain = 100 * (_mean(rows, "most_accurate", "accuracy") - _mean(rows, "fastest", "accuracy"))
        summary[key] = {"gain_points": round(gain, 2), "auto_accurate_draws": accurate, "draws": len(rows),
                        "auto_accuracy": _mean(rows, "auto", "accuracy"), "auto_seconds": _mean(rows, "auto", "seconds"),
                        **{f"{rc}_{k}": _mean(rows, rc, k) for rc in RECIPES for k in ("accuracy", "seconds")},
                        "auto_max_seconds": max(r["auto"]["seconds"] for r in rows)}
        lines.append(
            f"| {NAMES[name]}, {per_class} a class | {rows[0]['auto']['images']} | most accurate {accurate}/{len(rows)} | "
            f"{_mean(rows, 'most_accurate', 'accuracy'):.1%} | {_mean(rows, 'fastest', 'accuracy'):.1%} | {gain:+.1f} | "
            f"{_mean(rows, 'most_accurate', 'seconds'):.0f} s | {_mean(rows, 'fastest', 'seconds'):.0f} s | "
            f"{', '.join(f'{x:.2f}' for x in ratio['most_accurate'])}; "
            f"{', '.join(f'{x:.2f}' for x in ratio['fastest'])} | "
            f"{statistics.fmean(r[rc]['load'] for r in rows for rc in RECIPES):.1f} |")
    runs = [r[rc] for rows in results.values() for r in rows for rc in RECIPES]
    later = [x for x in runs if x["measured_runs"]]
    err = lambda xs: statistics.median(abs(x["estimate"] / x["seconds"] - 1) for x in xs) if xs else None
    within = lambda xs: sum(0.5 <= x["estimate"] / x["seconds"] <= 1.5 for x in xs)
    pick_ok = all((x["accurate_estimate"] is not None and x["accurate_estimate"] < WAIT_SECONDS
                   and RECIPE_GAIN.get(x.get("images_kind"), 1.0) > 0) == (x["recipe"] == "most_accurate")
                  for rows in results.values() for r in rows for x in [r["auto"]])
    overall = {"median_abs_error": err(runs), "median_abs_error_after_first": err(later),
               "within_50pct": within(runs), "within_50pct_after_first": within(later), "runs": len(runs),
               "runs_after_first": len(later), "auto_follows_estimate": pick_ok,
               "auto_90_images_max_seconds": max((x["seconds"] for rows in results.values() for r in rows
                                                  for x in [r["auto"]] if x["images"] <= 90), default=None)}
    text = "\n".join(lines) + (
        f"\n\nEstimate against actual time: median error {overall['median_abs_error']:.0%} over {len(runs)} runs, "
        f"{overall['within_50pct']} within a factor 0.5-1.5"
        + (f"; after each recipe's first run {overall['median_abs_error_after_first']:.0%}, "
           f"{overall['within_50pct_after_first']} of {len(later)} within 0.5-1.5" if later else "")
        + f". `auto` made the most accurate model exactly when its estimate was under 2 minutes (on colour "
          f"images): {'yes' if pick_ok else 'no'}.")
    return text, {"sets": summary, "overall": overall}


def report(quick: bool = False) -> tuple[str, dict]:
    """Markdown tables and raw numbers: both recipes and auto's pick, and the estimates against the times."""
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        before = os.environ.get(ENV_VAR)
        os.environ[ENV_VAR] = str(Path(tmp) / "workspace")
        try:
            results = _measure(QUICK if quick else FULL, Path(tmp))
        finally:
            if before is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = before
    table, summary = _table(results)
    heading = (f"### The most accurate and the fastest recipe, and which one `auto` picks ({os.cpu_count()} cores, "
               f"{time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s)\n\n")
    return heading + table, {"results": results, **summary, "cores": os.cpu_count(), "quick": quick}


if __name__ == "__main__":
    text, raw = report(quick="--quick" in sys.argv[1:])
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"judge_recipe{'-quick' if '--quick' in sys.argv[1:] else ''}.json").write_text(json.dumps(raw, indent=2))
    print(text)
