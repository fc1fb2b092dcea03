"""Judgments benchmark: how often each verdict the studio shows a non-expert is right, on data with
known answers (issue 23). One section a verdict, each its own module:

- ``calibration``: test calibration error, raw against shipped; the default "not sure" rule's coverage
  and precision on test images, and on test texts (Debian package descriptions; bench/judge_calibration.py);
- ``labels``: the "probably labelled wrong" finder's precision, recall and flagged share at 0, 5, 10 and
  20% planted label flips, on images and texts (bench/judge_labels.py);
- ``leakage``: planted exact, resized and re-encoded copies across splits, and false alarms among
  distinct images (bench/judge_leakage.py);
- ``recipe``: the ``auto`` recipe's accuracy and time against the fastest recipe (bench/judge_recipe.py);
- ``words``: how often "which words moved the answer" ranks first a planted word that decides the class,
  in real texts (bench/judge_words.py).

    python bench/judgments.py                  # every section (about half an hour on 2 cores)
    python bench/judgments.py --quick          # a few draws each, to check that it runs
    python bench/judgments.py --only leakage,labels

Prints each section's markdown tables and writes bench/out/judgments[-quick].json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTIONS = ("calibration", "labels", "leakage", "recipe", "words")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few draws a section")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = p.parse_args()
    numbers = {}
    for name in args.only.split(","):
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
        start = time.perf_counter()
        text, numbers[name] = importlib.import_module(f"bench.judge_{name}").report(quick=args.quick)
        print(f"{text}\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"judgments{'-quick' if args.quick else ''}.json"
    machine = {"cpus": os.cpu_count(), "processor": platform.processor() or "cpu", "quick": args.quick,
               "date": time.strftime("%Y-%m-%d")}
    target.write_text(json.dumps({"sections": numbers, "machine": machine}, indent=2, sort_keys=True))
    print(f"written: {target}")


if __name__ == "__main__":
    main()
