"""Which words moved a text model's answer, by occlusion: each word is left out of the text in turn, and
its effect is how much the answer's probability drops without it (positive: the word raised the
answer; negative: it lowered it). The text and every variant go through the saved model in one
batch, so a word's effect is measured exactly as the Use page and the ONNX file would compute it.

Only the first MAX_WORDS words are weighed (one variant each), and only the first MAX_CHARS
characters are read: the model reads no more than its token limit anyway (256 tokens for MiniLM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tlcore.errors import TLError
from tlcore.use.predict_text import TextPredictor

MAX_WORDS = 60  # words weighed in one text: one more text to classify each
MAX_CHARS = 10_000  # of a text read: well past the model's token limit
WORD = re.compile(r"\w+(?:['’]\w+)*")  # a word, with its apostrophes ("don't"); punctuation stays between words
NO_WORDS = "This text has no words to weigh; type a text with words in it."
CUT = "Only its first {weighed} of {words} words were weighed; the rest count as they are."


@dataclass(frozen=True)
class WordEffects:
    """The saved model's answer for a text and each weighed word's effect on it.

    ``pieces`` is the text from its start to its last weighed word, in order: each word with its
    effect (the answer's probability with the word minus without it), and the characters between
    words with None. ``words`` counts the words in the text (read up to MAX_CHARS), of which the
    first ``weighed`` were weighed."""

    answer: str
    probability: float
    pieces: list[tuple[str, float | None]]
    weighed: int
    words: int

    @property
    def cut(self) -> str:
        """The sentence saying that some words were not weighed, or ""."""
        return CUT.format(weighed=self.weighed, words=self.words) if self.weighed < self.words else ""

    def ranked(self) -> list[tuple[str, float]]:
        """The weighed words with their effects, the one that moved the answer most first."""
        return sorted(((w, e) for w, e in self.pieces if e is not None), key=lambda we: abs(we[1]), reverse=True)


def word_effects(predictor: TextPredictor, text: str, max_words: int = MAX_WORDS) -> WordEffects:
    """The effect of each of the first ``max_words`` words of ``text`` on the saved model's answer:
    the drop in the answer's probability when that word is left out."""
    text = text[:MAX_CHARS]
    spans = [m.span() for m in WORD.finditer(text)]
    if not spans:
        raise TLError(NO_WORDS)
    weighed = spans[:max_words]
    variants = [text[:start] + text[end:] for start, end in weighed]
    p = predictor.probabilities([text, *variants], batch=len(variants) + 1)
    answer = int(p[0].argmax())
    effects = (p[0, answer] - p[1:, answer]).tolist()
    pieces, at = [], 0
    for (start, end), effect in zip(weighed, effects):
        if start > at:
            pieces.append((text[at:start], None))
        pieces.append((text[start:end], effect))
        at = end
    return WordEffects(predictor.classes[answer], float(p[0, answer]), pieces, len(weighed), len(spans))
