"""Leakage benchmark: are planted copies of training images among the held-out images caught, and
are distinct pictures left alone?

    python bench/judge_leakage.py            # 5 draws (seeds 1-5; seed 0 tuned the limits)
    python bench/judge_leakage.py --quick    # 1 draw, fewer images

Each draw writes a dataset with train/, val/ and test/ folders of PNG files from three sources:
clip art (Debian's openclipart-png, the quality benchmark's folders), Fashion-MNIST (its 28-pixel
images enlarged to 112 pixels, as a photo would have more pixels than the 16 a fingerprint keeps)
and scikit-learn's digits (8 pixels, enlarged to 32 as the studio's sample writes them). Into
val/ and test/ go copies of training images: exact (the same file), resized (50-80%, bilinear,
PNG) and re-encoded (JPEG, quality 70-85), and distinct images that copy nothing. A fourth set,
Fashion-MNIST's own test images at their 28 pixels (50 a class for training, 100 a class held
out), has no copies: it counts false alarms where distinct pictures are most alike. The engine
scans the folder and names the held-out images that copy training images (tlcore.data.leakage
.find_copies, on files), and a run's count is checked too (the same pictures as the model's
208-pixel inputs). Clip-art files that hold the same picture as another (the package has some:
within 2 grey levels at 64 pixels) never enter a draw.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import clipart_files, digits_arrays, fashion_arrays  # noqa: E402

KINDS = ("exact", "resized", "jpeg")
SETS = ("clipart", "fashion", "digits", "fashion28")
RUN_PX = 208  # the default model's input size on a processor


def _clipart_pool() -> list[Image.Image]:
    """Clip-art pictures, each file's picture different from every other one's."""
    from tlcore.data.images import open_rgb

    files, _, _ = clipart_files()
    seen, pictures, grey = set(), [], []
    for f in files:
        digest = hashlib.sha256(Path(f).read_bytes()).digest()
        if digest in seen:
            continue
        seen.add(digest)
        img = open_rgb(f)
        small = np.asarray(img.convert("L").resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float32)
        if grey and np.abs(np.stack(grey) - small).mean((1, 2)).min() <= 2:
            continue
        pictures.append(img)
        grey.append(small)
    return pictures


def _pools() -> dict[str, list[Image.Image] | np.ndarray]:
    x, _, tx, _, _ = fashion_arrays()
    digits, _, _ = digits_arrays()
    return {"clipart": _clipart_pool(), "fashion": x, "digits": digits, "fashion28": tx}


def _picture(pool, i: int, name: str) -> Image.Image:
    if name == "clipart":
        return pool[i]
    img = Image.fromarray(pool[i])
    if name == "fashion":
        return img.resize((112, 112), Image.Resampling.BILINEAR)
    if name == "fashion28":
        return img
    return img.resize((32, 32), Image.Resampling.NEAREST)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _planted(original: bytes, img: Image.Image, kind: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """A copy of one training picture, and its file suffix."""
    if kind == "exact":
        return original, ".png"
    if kind == "resized":
        f = rng.uniform(0.5, 0.8)
        small = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.Resampling.BILINEAR)
        return _png(small), ".png"
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=int(rng.integers(70, 86)))
    return buf.getvalue(), ".jpg"


def _write_draw(root: Path, pools: dict, seed: int,
                sizes: dict[str, tuple[int, int, int]]) -> dict[str, tuple[str, str, str]]:
    """Write one draw under ``root``; {file: (set, kind or "distinct", the original's file)} for held-out files."""
    rng = np.random.default_rng(seed)
    truth = {}
    for name, (n_train, n_each, n_distinct) in sizes.items():
        pool = pools[name]
        picks = rng.permutation(len(pool))[:n_train + n_distinct]
        train, distinct = picks[:n_train], picks[n_train:]
        originals = {}
        for i in train:
            path = root / "train" / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            originals[i] = _png(_picture(pool, i, name))
            path.write_bytes(originals[i])
        copied = rng.permutation(train)[:n_each * len(KINDS)]
        for k, i in enumerate(copied):
            kind = KINDS[k % len(KINDS)]
            data, suffix = _planted(originals[i], _picture(pool, i, name), kind, rng)
            path = root / ("val" if k % 2 else "test") / name / f"{kind}-{i}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            truth[str(path)] = (name, kind, str(root / "train" / name / f"{i}.png"))
        for k, i in enumerate(distinct):
            path = root / ("val" if k % 2 else "test") / name / f"distinct-{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_png(_picture(pool, i, name)))
            truth[str(path)] = (name, "distinct", "")
    return truth


def _run_flags(ds) -> set[str]:
    """Held-out files a run counts as copies when no fingerprint of its files is kept (a run from the
    command line; after the Data page's audit a run uses the audit's): from its model inputs."""
    from tlcore.data.images import load_square_uint8
    from tlcore.data.leakage import matches
    from tlcore.data.fingerprint import fingerprint_pixels

    def entries(items):
        return [(i.sha256, fingerprint_pixels(load_square_uint8(i.path, RUN_PX).numpy()), (i.width, i.height))
                for i in items]

    train = entries(ds.subset("train"))
    flagged = set()
    for split in ("val", "test"):
        scored = ds.subset(split)
        flagged |= {scored[s].path for s, _, _ in matches(train, entries(scored))}
    return flagged


def _tally(truth: dict, flagged: dict[str, str], rows: dict) -> None:
    for path, (name, kind, original) in truth.items():
        row = rows.setdefault((name, kind), {"planted": 0, "caught": 0, "right_original": 0})
        row["planted"] += 1
        if path in flagged:
            row["caught"] += 1
            row["right_original"] += flagged[path] == original


@contextmanager
def _workspace(folder: str) -> Iterator[None]:
    """A fresh workspace (its fingerprint store starts empty) instead of the user's."""
    from tlcore.workspace import ENV_VAR

    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = folder
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = before


def measure(quick: bool = False, seeds: list[int] | None = None) -> dict:
    """Detection and false alarms over the draws (seed 0 tuned the limits), by set and kind, for
    the audit and for a run."""
    from tlcore.data.dataset import scan_folder
    from tlcore.data.leakage import find_copies

    pools = _pools()
    sizes = ({"clipart": (60, 6, 80), "fashion": (80, 6, 100), "digits": (60, 6, 80), "fashion28": (100, 0, 200)}
             if quick else {"clipart": (150, 20, 150), "fashion": (200, 20, 200), "digits": (150, 20, 150),
                            "fashion28": (500, 0, 1000)})
    seeds = seeds or ([1] if quick else [1, 2, 3, 4, 5])
    audit_rows: dict = {}
    run_rows: dict = {}
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp, _workspace(tmp):
            truth = _write_draw(Path(tmp) / "data", pools, seed, sizes)
            ds = scan_folder(Path(tmp) / "data")
            found = {c.path: c.of for copies in find_copies(ds.items).values() for c in copies}
            _tally(truth, found, audit_rows)
            _tally(truth, {p: "" for p in _run_flags(ds)}, run_rows)
    return {"draws": len(seeds), "seeds": seeds, "sizes": sizes, "clipart_pictures": len(pools["clipart"]),
            "audit": {f"{n}/{k}": v for (n, k), v in sorted(audit_rows.items())},
            "run": {f"{n}/{k}": v for (n, k), v in sorted(run_rows.items())}}


def _table(rows: dict, original: bool) -> list[str]:
    head = "| set | exact caught | resized caught | JPEG caught | distinct flagged |"
    lines = [head, "| --- | --- | --- | --- | --- |"]
    total = {k: [0, 0] for k in (*KINDS, "distinct")}
    for name in (*SETS, "all"):
        cells = []
        for kind in (*KINDS, "distinct"):
            if name == "all":
                caught, planted = total[kind]
            else:
                row = rows.get(f"{name}/{kind}", {"planted": 0, "caught": 0})
                caught, planted = row["caught"], row["planted"]
                total[kind][0] += caught
                total[kind][1] += planted
            cells.append(f"{caught}/{planted} ({caught / planted:.1%})" if planted else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if original:
        right = sum(v["right_original"] for k, v in rows.items() if not k.endswith("distinct"))
        caught = sum(v["caught"] for k, v in rows.items() if not k.endswith("distinct"))
        lines.append(f"\nCaught copies paired with their own original: {right}/{caught}.")
    return lines


def report(quick: bool = False, seeds: list[int] | None = None) -> tuple[str, dict]:
    """Markdown tables (the audit on files, a run on its inputs) and the raw numbers."""
    raw = measure(quick, seeds)
    md = [f"### Leakage: planted copies across splits ({raw['draws']} draw(s), seeds {raw['seeds']})", "",
          "The Data page's audit (files):", "", *_table(raw["audit"], True), "",
          f"A run's count without the audit's fingerprints (from its {RUN_PX}-pixel model inputs):", "", *_table(raw["run"], False)]
    return "\n".join(md), raw


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one draw, fewer images")
    parser.add_argument("--seeds", default="", help="comma-separated draws instead (0: the tuning draw)")
    args = parser.parse_args()
    print(report(args.quick, [int(s) for s in args.seeds.split(",") if s])[0])
