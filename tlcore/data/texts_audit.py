"""The audit of a text dataset, in plain words: examples per class (and per split), texts left out
in reading (empty ones, binary files, an unknown encoding) and files read in another encoding,
repeated texts (within a class, under two classes, in training and in val or test), very short
texts, and how many texts are longer than the model reads, so will be cut.

Its ``lines`` are Markdown for display: every piece of a user's text (a class name, an example, a
file name) is escaped with tlcore.markdown, so HTML or Markdown in a text shows as written.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from tlcore.data.leakage import plural
from tlcore.data.texts import TextData, TextItem, cut_note
from tlcore.errors import TLError
from tlcore.markdown import escape

DEFAULT_MODEL = "all_minilm_l6_v2"
FEW_TEXTS = 10  # a class; the text benchmark (bench/quality_text.py) measures from 10 a class up
SHORT_WORDS = 3  # fewer words than this give the model little to go on
SHOWN_CHARS = 60  # of an example quoted in a sentence
COUNTS = "{texts} in {classes} classes: {each}."
FEW = "{which} fewer than {few} texts; {few} or more a class gives much better results."
REPEATS = ("{texts} {repeat} another text of the same class (for example {example}); remove the copies, as they "
           "count twice.")
LEAKED = ("{texts} {repeat} a training text (for example {example}); remove {them} from val or test, as copies make "
          "scores look better than they are.")
SHORT = "{texts} {have} fewer than {words} words (for example {example}); the model has little to go on in {them}."
MIXED = ("{texts} {appear} under more than one class (for example {example} under '{first}' and '{second}'); keep "
         "each text in its right class only.")


def _key(text: str) -> str:
    """A text as compared for copies: case and runs of spaces and line breaks do not count."""
    return " ".join(text.casefold().split())


def _quoted(text: str) -> str:
    return "'" + escape(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS].rstrip() + "…") + "'"


def token_lengths(texts: list[str], model: str = DEFAULT_MODEL) -> tuple[list[int], int] | None:
    """Each text's length in the model's tokens, and the model's limit; None when its tokenizer is
    not installed (the audit then says nothing about cut texts)."""
    from tlcore.models.catalog import get_spec
    from tlcore.models.text_net import text_tokenizer

    spec = get_spec(model)
    try:
        return text_tokenizer(spec).lengths(texts), spec.max_tokens
    except TLError:
        return None


def _counts_line(totals: dict[str, int], per_split: dict[str, dict[str, int]]) -> str:
    def per_class(label: str) -> str:
        parts = ", ".join(f"{s} {counts[label]}" for s, counts in per_split.items())
        return f"'{escape(label)}' {totals[label]}" + (f" ({parts})" if parts else "")
    return COUNTS.format(texts=plural(sum(totals.values()), 'text'), classes=len(totals),
                         each="; ".join(per_class(c) for c in totals))


def _few_line(totals: dict[str, int]) -> str:
    few = [f"'{escape(c)}' ({n})" for c, n in totals.items() if n < FEW_TEXTS]
    if not few:
        return ""
    which = f"Class {few[0]} has" if len(few) == 1 else f"Classes {', '.join(few)} have"
    return FEW.format(which=which, few=FEW_TEXTS)


def _copies(items: list[TextItem]) -> tuple[list[str], dict[str, int]]:
    """Sentences on repeated texts, and how many of each kind."""
    groups: dict[str, list[TextItem]] = defaultdict(list)
    for item in items:
        groups[_key(item.text)].append(item)
    within = [g for g in groups.values() if max(Counter((i.label, i.split) for i in g).values()) > 1]
    extra = sum(n - 1 for g in within for n in Counter((i.label, i.split) for i in g).values())
    mixed = [g for g in groups.values() if len({i.label for i in g}) > 1]
    leaked = [i for g in groups.values() for i in g if i.split in ("val", "test")
              and any(o.split == "train" and o.label == i.label for o in g)]
    lines = []
    if extra:
        lines.append(REPEATS.format(texts=plural(extra, 'text'), repeat='repeats' if extra == 1 else 'repeat',
                                    example=_quoted(within[0][0].text)))
    if mixed:
        labels = sorted({i.label for i in mixed[0]})
        lines.append(MIXED.format(texts=plural(len(mixed), 'text'), appear='appears' if len(mixed) == 1 else 'appear',
                                  example=_quoted(mixed[0][0].text), first=escape(labels[0]), second=escape(labels[1])))
    if leaked:
        one = len(leaked) == 1
        lines.append(LEAKED.format(texts=plural(len(leaked), 'validation or test text'),
                                   repeat='repeats' if one else 'repeat', example=_quoted(leaked[0].text),
                                   them='it' if one else 'them'))
    return lines, {"within_class": extra, "across_classes": len(mixed), "across_splits": len(leaked)}


def audit_texts(data: TextData, model: str = DEFAULT_MODEL) -> dict:
    """A JSON-safe report on ``data``: counts per class and split, repeated, short and long texts,
    what was left out in reading, and ``lines``: the report in sentences (Markdown, escaped)."""
    totals = data.counts()
    per_split = {s: data.counts(s) for s in ("train", "val", "test") if any(i.split == s for i in data.items)}
    copy_lines, copies = _copies(data.items)
    short = [i for i in data.items if len(i.text.split()) < SHORT_WORDS]
    measured = token_lengths([i.text for i in data.items], model)
    cut = sum(n > measured[1] for n in measured[0]) if measured else None
    lines = [_counts_line(totals, per_split), _few_line(totals), *map(escape, data.notes), *copy_lines]
    if short:
        one = len(short) == 1
        lines.append(SHORT.format(texts=plural(len(short), 'text'), have='has' if one else 'have', words=SHORT_WORDS,
                                  example=_quoted(short[0].text), them='it' if one else 'them'))
    if measured:
        lines.append(cut_note(*measured))
    return {"counts": {c: {"total": n, **{s: counts[c] for s, counts in per_split.items()}} for c, n in totals.items()},
            "total": len(data.items), "copies": copies, "short": len(short), "cut": cut,
            "limit": measured[1] if measured else None, "notes": data.notes, "lines": [x for x in lines if x]}
