"""How long the studio takes to retrain and reorder after a confirmed batch of 10, pool features cached.

    python bench/label_speed.py                # 2,000-image pool, 200 labelled, 5 batches timed
    python bench/label_speed.py --pool 500 --batches 3   # a quick look

Builds, in a workspace of its own, a stored dataset of Fashion-MNIST images (``--labelled`` a class,
as PNG files) and an unlabelled pool of ``--pool`` other Fashion-MNIST images, computes the pool's
features once (tlcore.studio.compute_features, the studio's EfficientNet-Lite0; at ``--image-size``
px, 64 by default: the features, and so the retraining, have the same 1,280 numbers at any size),
then ``--batches`` times: confirms the first 10 suggestions with their true classes (as a person would)
and times ``tlcore.studio.suggestions``, everything the Label view waits for after a batch (reading
the pool, the dataset and the kept features, training the frozen head, calibrating it, measuring
"accept all", ordering the pool). Prints the median and every time, with the processor time the
process used (what an idle machine would take, about, on a shared and busy one) and the load.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _png(image) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--labelled", type=int, default=20, help="labelled images a class to start from")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args(argv)
    os.environ["TLSTUDIO_HOME"] = tempfile.mkdtemp(prefix="label-speed-")
    from bench.datasets import draw, fashion_arrays
    from tlcore import studio
    from tlcore.data import store

    x, y, _, _, names = fashion_arrays()
    start, rest = draw(y, args.labelled, seed=0)
    pool = rest[:args.pool]
    ds = store.import_class_images("fashion", {c: [(f"{c}-{i}.png", _png(x[i])) for i in start if names[y[i]] == c]
                                               for c in names})
    data = store.dataset_folder(ds)
    truth = {f"u{i}.png": names[y[i]] for i in pool}
    studio.add_to_pool(data, [(f"u{i}.png", _png(x[i])) for i in pool])
    begun = time.perf_counter()
    studio.compute_features(data, image_size=args.image_size)
    print(f"features of {len(pool) + len(start)} images computed once in {time.perf_counter() - begun:.0f} s",
          flush=True)
    found = studio.suggestions(data, image_size=args.image_size)
    times, cpu = [], []
    for _ in range(args.batches):
        studio.confirm(data, [(r["name"], truth[r["name"]]) for r in found.rows[:10]])
        begun, used = time.perf_counter(), time.process_time()
        found = studio.suggestions(data, image_size=args.image_size)
        times.append(time.perf_counter() - begun)
        cpu.append(time.process_time() - used)
        print(f"{found.labels} labelled, {len(found.rows)} in the pool: {times[-1]:.2f} s "
              f"({cpu[-1]:.2f} s of processor time)", flush=True)
    out = {"pool": args.pool, "seconds": statistics.median(times), "cpu_seconds": statistics.median(cpu),
           "times": times, "load": os.getloadavg()}
    print(f"retrain and reorder after a batch of 10: median {out['seconds']:.2f} s, {out['cpu_seconds']:.2f} s of "
          f"processor time (load average {out['load'][0]:.1f} on {os.cpu_count()} cores)")
    return out


if __name__ == "__main__":
    main()
