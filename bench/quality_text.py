"""Text quality benchmark: test accuracy and wall time of text recipes on the same draws.

    python bench/text_data.py       # once: the development set (Debian package descriptions)
    python bench/quality_text.py    # 5 draws at 10, 15 and 50 examples a class, the fixed test set

Recipes, each given exactly the same training texts per draw and scored on the same test texts:

- ``tfidf_lr``: TF-IDF of word 1-2 grams and character 3-5 grams, then logistic regression
  (scikit-learn's defaults);
- ``minilm_lr``: logistic regression (scikit-learn's defaults) on frozen all-MiniLM-L6-v2 sentence
  embeddings (mean-pooled, normalised: what sentence-transformers computes);
- ``default``: what a frozen text run of the studio trains and saves (``python -m tlcore train
  --data texts.csv``): its encoder's features (tlcore.models.text_net.pooled_views) and the run's
  own head-fitting function (tlcore.training.text_recipe.train_text_head, with the class names'
  features as the run computes them), scored by the head it writes.

Seconds: a recipe's training (embedding its training texts, and for the default the class names,
then fitting) and its predicting the test texts (embedding them, then predicting). Every text is
embedded once by each encoder, in batches of texts of similar length (as an embedder would), the
two encoders batch after batch under the same load, and each text is charged its batch's time
divided among the batch; TF-IDF recipes are timed as they run. Writes bench/out/quality_text.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.text_data import OUT as DATA  # noqa: E402

BATCH = 32


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--per-class", default="10,15,50")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--recipes", default="tfidf_lr,minilm_lr,default")
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "quality_text.json"))
    return p.parse_args(argv)


@functools.cache
def _encoder():
    from tlcore.models.catalog import get_spec
    from tlcore.models.net import build_backbone
    from tlcore.models.text_net import text_tokenizer

    spec = get_spec("all_minilm_l6_v2")
    return build_backbone(spec)[0], text_tokenizer(spec)


def _sentence_embedding(encoder, ids):
    """The plain recipe's encoder: the last layer mean-pooled over the real tokens, length 1."""
    import torch

    from tlcore.models.text_net import PAD_ID, mean_pool

    mask = ids != PAD_ID
    hidden = encoder.bert(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    return torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1)


def embed_all(texts: list[str], encoders: tuple[str, ...] = ("sentence", "studio")
              ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each of ``encoders`` ("sentence": the sentence embedding [N, 384]; "studio": the studio's
    encoder, features [N, 1152]), the texts' vectors and each text's share of the seconds it took
    (PyTorch, this machine's cores)."""
    import torch

    encoder, tokenizer = _encoder()
    order = np.argsort([len(t) for t in texts])
    runs = {"sentence": lambda ids: _sentence_embedding(encoder, ids), "studio": encoder}
    runs = {name: runs[name] for name in encoders}
    out = {name: (np.zeros((len(texts), 384 if name == "sentence" else encoder.feature_dim), np.float32),
                  np.zeros(len(texts))) for name in runs}
    with torch.inference_mode():
        for i in range(0, len(texts), BATCH):
            pick = order[i:i + BATCH]
            for name, run in runs.items():
                start = time.perf_counter()
                out[name][0][pick] = run(tokenizer([texts[k] for k in pick]).ids).numpy()
                out[name][1][pick] = (time.perf_counter() - start) / len(pick)
    return out


def _tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                         ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True))])


def _lr(c: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000)


def tfidf_lr(texts: list[str], y: np.ndarray, test_texts: list[str]) -> tuple[np.ndarray, float, float]:
    """Predicted classes of the test texts, training seconds, predicting seconds."""
    from sklearn.pipeline import make_pipeline

    start = time.perf_counter()
    model = make_pipeline(_tfidf(), _lr()).fit(texts, y)
    trained = time.perf_counter()
    pred = model.predict(test_texts)
    return pred, trained - start, time.perf_counter() - trained


def minilm_lr(e: np.ndarray, y: np.ndarray, e_test: np.ndarray) -> tuple[np.ndarray, float, float]:
    start = time.perf_counter()
    model = _lr().fit(e, y)
    trained = time.perf_counter()
    pred = model.predict(e_test)
    return pred, trained - start, time.perf_counter() - trained


def default(e: np.ndarray, y: np.ndarray, e_test: np.ndarray, classes: list[str]) -> tuple[np.ndarray, float, float]:
    """What a frozen text run trains (tlcore.training.engine: the class names' features, then
    text_recipe.train_text_head into the run's heads), scored by the head it saves."""
    import torch
    from torch import nn

    from tlcore.models.soup import HeadSoup
    from tlcore.training.reporter import MemoryReporter
    from tlcore.training.text_recipe import name_features, train_text_head

    encoder, tokenizer = _encoder()
    start = time.perf_counter()
    with torch.inference_mode():
        names = name_features(encoder, tokenizer, classes)
    head = nn.Sequential(nn.Linear(e.shape[1], len(classes)))
    x, labels = torch.from_numpy(e), torch.from_numpy(y)
    soup = HeadSoup(head)
    train_text_head(MemoryReporter(), soup, x, labels, x, labels, names, classes)
    soup.collapse_into(head)
    trained = time.perf_counter()
    with torch.inference_mode():
        pred = head(torch.from_numpy(e_test)).argmax(1).numpy()
    return pred, trained - start, time.perf_counter() - trained


def draw(labels: np.ndarray, pool: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` indices of each class from ``pool`` (seeded, the same for every recipe)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(pool[labels[pool] == c], per_class, replace=False)
                           for c in np.unique(labels)])


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    from tlcore.data.texts import read_table

    data = read_table(args.data, "text", "label")
    texts = [i.text for i in data.items]
    labels = np.array([data.classes.index(i.label) for i in data.items])
    test = np.array([k for k, i in enumerate(data.items) if i.split == "test"])
    pool = np.array([k for k, i in enumerate(data.items) if i.split == "train"])
    sizes, recipes = [int(n) for n in args.per_class.split(",")], args.recipes.split(",")
    draws = {(n, s): draw(labels, pool, n, s) for n in sizes for s in range(args.draws)}
    needed = np.unique(np.concatenate([test, *draws.values()]))
    load = [os.getloadavg()[0]]
    print(f"Embedding {len(needed)} texts…", file=sys.stderr)
    vectors = embed_all([texts[k] for k in needed])
    emb, cost = {}, {}
    for name, (v, seconds) in vectors.items():
        emb[name], cost[name] = np.zeros((len(texts), v.shape[1]), np.float32), np.zeros(len(texts))
        emb[name][needed], cost[name][needed] = v, seconds
    rows = []
    for (n, seed), train in draws.items():
        y, y_test = labels[train], labels[test]
        for name in recipes:
            if name == "tfidf_lr":
                pred, fit, predict = tfidf_lr([texts[k] for k in train], y, [texts[k] for k in test])
                embed_train = embed_test = 0.0
            else:  # the default's fitting time includes embedding the class names
                encoder = "sentence" if name == "minilm_lr" else "studio"
                pred, fit, predict = (minilm_lr(emb[encoder][train], y, emb[encoder][test]) if name == "minilm_lr"
                                      else default(emb[encoder][train], y, emb[encoder][test], data.classes))
                embed_train, embed_test = float(cost[encoder][train].sum()), float(cost[encoder][test].sum())
            rows.append({"recipe": name, "per_class": n, "seed": seed, "accuracy": float((pred == y_test).mean()),
                         "train_seconds": embed_train + fit, "predict_seconds": embed_test + predict})
            print(f"{n:>3} a class, draw {seed}: {name:<10} {rows[-1]['accuracy']:.1%} "
                  f"train {rows[-1]['train_seconds']:.2f} s, test {rows[-1]['predict_seconds']:.2f} s", file=sys.stderr)
    load.append(os.getloadavg()[0])
    summary = _summary(rows, sizes, recipes)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "classes": data.classes,
                               "test_texts": len(test), "pool_texts": len(pool), "rows": rows,
                               "load_average_1min": {"start": load[0], "end": load[1]}, "summary": summary}, indent=2))
    print(_table(summary, sizes, recipes))
    print(f"Load average (1 min) at the start and end: {load[0]:.1f}, {load[1]:.1f}")
    return 0


def _summary(rows: list[dict], sizes: list[int], recipes: list[str]) -> dict:
    out = {}
    for n in sizes:
        for name in recipes:
            mine = [r for r in rows if r["per_class"] == n and r["recipe"] == name]
            acc = np.array([r["accuracy"] for r in mine]) * 100
            out[f"{name}@{n}"] = {"mean": round(float(acc.mean()), 2), "sd": round(float(acc.std(ddof=1)), 2)
                                  if len(acc) > 1 else 0.0,
                                  "train_seconds": round(float(np.mean([r["train_seconds"] for r in mine])), 2),
                                  "seconds": round(float(np.mean([r["train_seconds"] + r["predict_seconds"]
                                                                  for r in mine])), 2)}
    return out


def _table(summary: dict, sizes: list[int], recipes: list[str]) -> str:
    lines = ["| a class | " + " | ".join(recipes) + " |", "| --- |" + " --- |" * len(recipes)]
    for n in sizes:
        cells = [f"{summary[f'{r}@{n}']['mean']:.1f} ± {summary[f'{r}@{n}']['sd']:.1f}% "
                 f"({summary[f'{r}@{n}']['train_seconds']:.1f} s + {summary[f'{r}@{n}']['seconds'] - summary[f'{r}@{n}']['train_seconds']:.1f} s)"
                 for r in recipes]
        if "default" in recipes and "minilm_lr" in recipes:  # the aims: the gain and the time against minilm_lr
            d, m = summary[f"default@{n}"], summary[f"minilm_lr@{n}"]
            cells[recipes.index("default")] += f" {d['mean'] - m['mean']:+.2f} pt, {d['seconds'] / m['seconds']:.2f}x"
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
