"""Word attributions benchmark: does "which words moved the answer" (tlcore.use.text_words, occlusion)
name the word that decided the class, on real text with a planted answer?

Each draw takes real Debian package descriptions (bench/text_data.py; any section) as carriers and two
planted words; every training carrier appears once with each word, inserted at a random place, so the
planted word is the only thing that tells the two classes apart. A frozen MiniLM run is trained through
the engine (``create_run`` + ``execute``, every choice left to the studio), and on unseen carriers, each
with one planted word, the benchmark counts how often that word is ranked first, and its mean rank.

    python bench/judgments.py --only words            # 5 draws, 20 training carriers, 40 unseen texts each
    python bench/judgments.py --only words --quick    # 1 draw, 10 unseen texts
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAIRS = [("walrus", "tulip"), ("quartz", "violin"), ("canyon", "pepper"), ("marble", "falcon"),
         ("glacier", "saddle")]
TRAIN, TEST = 20, 40  # carriers to train on (each twice), unseen texts to explain


def _planted(text: str, word: str, rng: random.Random) -> str:
    words = text.split()
    words.insert(rng.randrange(len(words) + 1), word)
    return " ".join(words)


def draw(carriers: list[str], pair: tuple[str, str], seed: int, tests: int) -> dict:
    """One draw: a run trained on the carriers with each planted word, and the planted word's rank in
    each unseen text's attributions."""
    import os

    from tlcore.config import TrainConfig
    from tlcore.jobs.train import create_run, execute
    from tlcore.studio import load_text_predictor, word_effects

    rng = random.Random(seed)
    picked = rng.sample(carriers, TRAIN + tests)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TLSTUDIO_HOME"] = str(Path(tmp) / "workspace")
        table = Path(tmp) / "planted.csv"
        with table.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows([_planted(c, w, rng), w] for c in picked[:TRAIN] for w in pair)
        run = create_run(TrainConfig(data=str(table), device="cpu"), Path(tmp) / "run")
        assert execute(run.path) == "finished", run.status().error
        predictor = load_text_predictor(run.path)
        ranks, right = [], 0
        for i, carrier in enumerate(picked[TRAIN:]):
            word = pair[i % 2]
            effects = word_effects(predictor, _planted(carrier, word, rng))
            ranked = [w for w, _ in effects.ranked()]
            ranks.append(ranked.index(word) + 1 if word in ranked else len(ranked) + 1)
            right += effects.answer == word
    return {"pair": list(pair), "texts": tests, "first": sum(r == 1 for r in ranks) / tests,
            "mean_rank": sum(ranks) / tests, "answered_right": right / tests}


def report(quick: bool = False) -> tuple[str, dict]:
    """A markdown table (with a heading) and JSON-safe numbers of the word attributions benchmark."""
    from bench.text_data import build

    start = time.perf_counter()
    carriers = sorted({r["text"] for r in build() if len(r["text"].split()) >= 4})
    rows = [draw(carriers, pair, seed, 10 if quick else TEST)
            for seed, pair in enumerate(PAIRS[:1] if quick else PAIRS)]
    lines = ["| planted words | unseen texts | planted word ranked first | its mean rank | answer right |",
             "|---|---|---|---|---|"]
    lines += [f"| {' / '.join(r['pair'])} | {r['texts']} | {r['first']:.0%} | {r['mean_rank']:.2f} | "
              f"{r['answered_right']:.0%} |" for r in rows]
    first = sum(r["first"] for r in rows) / len(rows)
    heading = ("### Which words moved the answer: occlusion on a planted word\n\n"
               f"Debian package descriptions with one of two planted words deciding the class ({TRAIN} carriers "
               f"each with both words to train a frozen MiniLM run as the studio trains it); mean share ranked "
               f"first: {first:.0%}.\n\n")
    return heading + "\n".join(lines), {"draws": rows, "first": first, "quick": quick,
                                        "seconds": time.perf_counter() - start}
