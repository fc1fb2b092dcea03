"""The text benchmark's development set: Debian package descriptions labelled by their Section.

    python bench/text_data.py    # writes bench/out/debian_text.csv (about 0.3 MB, not committed)

Text nobody here wrote: the Description field of ``apt-cache dumpavail`` (each package's one-line
synopsis, "Real-time strategy game of ancient warfare"). The long descriptions (Debian's separate
Translation-en lists, about 500 characters each) were tried first: their telling keywords carry word
counts far (at 15 a class, 5 draws: TF-IDF + LR 73.6%, frozen MiniLM + LR 84.8%), so they test the
encoder less than the short texts the studio's text model is for. The label is the Section, for six sections whose packages are applications rather
than libraries: games, graphics, math, net, science, sound. Near-copies would put the same text in
training and test ("... (data files)", "... - documentation"), so each source package keeps one binary
package (the one named like the source, else the shortest name), then texts that are equal after
lower-casing are kept once (all copies dropped when their sections differ). A fixed, seeded test
set of TEST_PER_CLASS texts a class is marked in the ``split`` column; the rest are the pool that
the benchmark draws training examples from.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "debian_text.csv"
SECTIONS = ("games", "graphics", "math", "net", "science", "sound")
TEST_PER_CLASS = 100
SEED = 0


def _stanzas(text: str):
    """Debian control stanzas as dicts of field -> value (continuation lines joined with newlines)."""
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def build() -> list[dict]:
    """The development set's rows: text, label, package, split."""
    dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    by_source: dict[str, list[dict]] = defaultdict(list)
    for s in _stanzas(dump):
        section = s.get("Section", "").rpartition("/")[2]  # contrib/games -> games
        if section not in SECTIONS or not s.get("Description"):
            continue
        source = s.get("Source", s["Package"]).split(" ")[0]
        by_source[source].append({"package": s["Package"], "label": section, "text": s["Description"]})
    chosen = [min(group, key=lambda r: (r["package"] != source, len(r["package"]), r["package"]))
              for source, group in sorted(by_source.items())]
    copies: dict[str, list[dict]] = defaultdict(list)
    for row in chosen:
        copies[" ".join(row["text"].lower().split())].append(row)
    rows = [group[0] for group in copies.values() if len({r["label"] for r in group}) == 1]
    rows.sort(key=lambda r: r["package"])
    rng = random.Random(SEED)
    for label in SECTIONS:
        members = [r for r in rows if r["label"] == label]
        test = set(id(r) for r in rng.sample(members, min(TEST_PER_CLASS, len(members) // 2)))
        for r in members:
            r["split"] = "test" if id(r) in test else "train"
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    rows = build()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label", "package", "split"])
        writer.writeheader()
        writer.writerows(rows)
    for label in SECTIONS:
        counts = [sum(r["label"] == label and r["split"] == s for r in rows) for s in ("train", "test")]
        print(f"{label:<10} {counts[0]:>5} pool {counts[1]:>4} test", file=sys.stderr)
    print(f"{len(rows)} texts -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
