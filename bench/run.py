"""Speed benchmark: each goal measured as a ratio of two ways, side by side, in one process.

    python bench/run.py            # full: 2,000 photos, on the GPU when there is one
    python bench/run.py --quick    # a 2-core CPU machine: small numbers of images

Writes bench/out/results-<device>.json (keys G1..G7, each with its headline ``ratio`` and the
raw measurements beside it) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench import measure  # noqa: E402
from tlcore.data.images import decode_many  # noqa: E402
from tlcore.data.store import import_class_images  # noqa: E402
from tlcore.workspace import ENV_VAR  # noqa: E402

GOALS = {
    "G1": "head epoch on cached features vs a full frozen-backbone epoch",
    "G2": "training images/s from files (epochs 2+) / synthetic in-memory rate",
    "G3": "engine CUDA step vs fp32/TF32",
    "G4": "pressing Train to end of epoch 1 (warm worker) / one steady epoch",
    "G5": "parallel decode vs one core x cores",
    "G6": "training images/s while the Train page polls / headless",
    "G7": "CPU features: engine vs PyTorch eager",
}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes for a CPU-only machine")
    p.add_argument("--models", default="efficientnet_lite0", help="comma-separated catalog names")
    p.add_argument("--out", default=str(ROOT / "bench" / "out"))
    return p.parse_args()


def _dataset(tmp: Path, count: int) -> tuple[str, list[str]]:
    """Photos on disk, stored in the workspace like an upload; returns its folder and the files."""
    paths = measure.make_photos(tmp / "photos", count, (640, 480))
    classes: dict[str, list[tuple[str, bytes]]] = {}
    for p in paths:
        classes.setdefault(Path(p).parent.name, []).append((Path(p).name, Path(p).read_bytes()))
    ds = import_class_images("bench photos", classes)
    from tlcore.data.store import dataset_folder

    return dataset_folder(ds), paths


def _bench_model(name: str, data: str, paths: list[str], large: list[str], device: torch.device,
                 quick: bool) -> dict:
    size, batch = 224, (32 if quick else 128)
    images, _ = decode_many(paths, size)
    g1_images = images[: 64 if quick else 2000]
    results = {"G1": {**measure.g1_frozen(name, g1_images, device, batch), "weights": measure.weights_for(name)}}
    results.update(measure.g2_g4_g6_training(data, name, device, batch if not quick else 16, size,
                                             epochs=3 if quick else 4))
    results["G3"] = measure.g3_precision(name, device, batch, size)
    results["G5"] = measure.g5_ingestion(paths * 4 if quick else paths[:1000], large, size)
    results["G7"] = measure.g7_cpu_embedding(name, images[:64], 32)
    return dict(sorted(results.items()))


def _table(all_results: dict) -> str:
    lines = [f"{'goal':<4} {'model':<20} {'ratio':>9}  measures"]
    for model, results in all_results.items():
        for goal, r in results.items():
            ratio = "skipped" if r.get("ratio") is None else f"{r['ratio']:.2f}"
            lines.append(f"{goal:<4} {model:<20} {ratio:>9}  {GOALS[goal]}")
    return "\n".join(lines)


def main() -> None:
    args = _args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[ENV_VAR] = str(Path(tmp) / "workspace")
        data, paths = _dataset(Path(tmp), 64 if args.quick else 2000)
        large = measure.make_photos(Path(tmp) / "large", 8 if args.quick else 32, (4000, 3000), seed=1)
        per_model = {name: _bench_model(name, data, paths, large, device, args.quick)
                     for name in args.models.split(",")}
    first = next(iter(per_model.values()))
    report = {**first, "models": per_model, "machine": {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
        "cpus": os.cpu_count(), "torch": torch.__version__, "quick": args.quick,
        "date": time.strftime("%Y-%m-%d")}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"results-{device.type}{'-quick' if args.quick else ''}.json"
    target.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(_table(per_model))
    print(f"written: {target}")


if __name__ == "__main__":
    main()
