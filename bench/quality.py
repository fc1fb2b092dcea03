"""Quality benchmark: test accuracy and wall time of several recipes, side by side, in one process.

    python bench/quality.py            # 5 draws; Fashion-MNIST and digits at 10, 15, 50 a class; clip art at 15
    python bench/quality.py --quick    # a busy 2-core CPU: fewer draws, capped test sets

Recipes, each given exactly the same training images per draw:

- ``default``: the engine's CLI with every option left to the recommender (from its start until it returns);
- ``most_accurate``: the same with the three-network ensemble (tlcore/models/ensemble.py);
- ``lr_lite0``: logistic regression (scikit-learn) on frozen EfficientNet-Lite0 final features,
  computed by ONNX Runtime (bench/anchor.py, its own process, from its start until it returns);
- ``frozen``: the command line with the network kept frozen (0 stages), the rest left to the recommender;
- ``finetune``: the engine fine-tuning the whole network (light augmentation, validation split).

Writes bench/out/quality[-quick].json and prints a table of mean accuracies and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import clipart_files, digits_arrays, draw, fashion_arrays  # noqa: E402
from tlcore.workspace import ENV_VAR  # noqa: E402

RECIPES = {
    "default": [],  # everything left to the recommender: the fastest model on a processor
    "most_accurate": ["--recipe", "most_accurate"],
    "frozen": ["--trainable-stages", "0"],  # the network kept frozen, the rest left to the recommender
    "finetune": ["--trainable-stages", "all", "--augment", "light", "--evaluation", "holdout", "--recipe", "fastest"],
}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer draws and test images")
    p.add_argument("--sets", default="clipart,fashion,digits", help="comma-separated datasets")
    p.add_argument("--recipes", default="default,most_accurate,lr_lite0,finetune")
    p.add_argument("--per-class", default="10,15,50", help="comma-separated training images a class")
    p.add_argument("--draws", type=int, default=0, help="draws a row (default: 5, or 2 with --quick)")
    p.add_argument("--out", default=str(ROOT / "bench" / "out"))
    return p.parse_args()


def _save_arrays(root: Path, images: np.ndarray, labels: np.ndarray, names: list[str], index: np.ndarray) -> Path:
    from PIL import Image

    for i in index:
        folder = root / names[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(folder / f"{i}.png")
    return root


def _copy_files(root: Path, files: list[str], labels: np.ndarray, names: list[str], index: np.ndarray) -> Path:
    for i in index:
        folder = root / names[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[i], folder / f"{i}.png")
    return root


def _draws(name: str, per_class: int, seeds: range, quick: bool, tmp: Path):
    """(train folder, test folder) for each draw, written as class folders of PNG files."""
    for seed in seeds:
        base = tmp / f"{name}-{per_class}-{seed}"
        if name == "fashion":
            x, y, tx, ty, names = fashion_arrays()
            train, _ = draw(y, per_class, seed)
            test, _ = draw(ty, 30 if quick else 100, 100)  # the same 1000 (quick: 300) test images every draw
            yield (_save_arrays(base / "train", x, y, names, train), _save_arrays(base / "test", tx, ty, names, test))
        elif name == "digits":
            x, y, names = digits_arrays()
            train, test = draw(y, per_class, seed, test_cap=30 if quick else None)
            yield (_save_arrays(base / "train", x, y, names, train), _save_arrays(base / "test", x, y, names, test))
        else:
            files, y, names = clipart_files()
            train, test = draw(y, per_class, seed, test_cap=20 if quick else None)
            yield (_copy_files(base / "train", files, y, names, train), _copy_files(base / "test", files, y, names, test))


def _engine(train: Path, test: Path, out: Path, extra: list[str]) -> dict:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tlcore", "train", "--data", str(train), "--test", str(test),
                    "--out", str(out), "--device", "cpu", "--seed", "0", *extra],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())["config"]
    return {"accuracy": metrics["test"]["accuracy"], "seconds": seconds,
            "recipe": config["recipe"], "stages": config["trainable_stages"], "epochs": config["epochs"]}


def _lr_lite0(train: Path, test: Path) -> dict:
    """Logistic regression on frozen Lite0 final features (bench/anchor.py), timed from its start."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "anchor.py"), str(train), str(test)],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout
    return {"accuracy": json.loads(out.splitlines()[-1])["accuracy"], "seconds": time.perf_counter() - start}


def _settings(quick: bool) -> list[tuple[str, int]]:
    if quick:
        return [("clipart", 15), ("fashion", 15), ("digits", 15)]
    return [("clipart", 15)] + [(s, n) for s in ("fashion", "digits") for n in (10, 15, 50)]


def main() -> None:
    args = _args()
    sets, recipes = args.sets.split(","), args.recipes.split(",")
    seeds = range(args.draws or (2 if args.quick else 5))
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[ENV_VAR] = str(Path(tmp) / "workspace")
        sizes = {int(n) for n in args.per_class.split(",")}
        for name, per_class in [s for s in _settings(args.quick) if s[0] in sets and s[1] in sizes]:
            rows = {r: [] for r in recipes}
            for d, (train, test) in enumerate(_draws(name, per_class, seeds, args.quick, Path(tmp))):
                for r in recipes:
                    row = (_lr_lite0(train, test) if r == "lr_lite0"
                           else _engine(train, test, Path(tmp) / f"run-{name}-{per_class}-{d}-{r}", RECIPES[r]))
                    rows[r].append(row)
                    print(f"{name} {per_class}/class draw {d} {r}: {row}", flush=True)
            results[f"{name}-{per_class}"] = {r: {"accuracy": float(np.mean([x["accuracy"] for x in v])),
                                                  "seconds": float(np.mean([x["seconds"] for x in v])), "draws": v}
                                              for r, v in rows.items()}
    report = {"results": results, "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or "cpu",
                                              "quick": args.quick, "date": time.strftime("%Y-%m-%d")}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"quality{'-quick' if args.quick else ''}.json"
    target.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(f"{'set':<14}" + "".join(f"{r:>22}" for r in recipes))
    for key, res in results.items():
        print(f"{key:<14}" + "".join(f"{res[r]['accuracy']:>13.1%} {res[r]['seconds']:>6.0f} s" for r in recipes))
    print(f"written: {target}")


if __name__ == "__main__":
    main()
