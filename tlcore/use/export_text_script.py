"""Classify texts with a text model exported by the transfer-learning studio, using only numpy,
tokenizers and onnxruntime (Python 3.10 or newer):

    pip install onnxruntime tokenizers numpy
    python snippet.py model.onnx tokenizer.json "The first text." "The second text." ...
    python snippet.py model.onnx tokenizer.json < texts.txt      (one text a line)

It prints one line per text, ``text,class,probability``, and reads the class names from the ONNX
file's metadata. ``tokenizer.json`` is the model's own tokenizer, exported beside it: it cuts a text
at the model's token limit as the studio did in training. Control characters in a text (a line
break, a tab) are printed escaped (``\\n``, ``\\t``), so each text makes exactly one line, and the
lines are CSV that a spreadsheet can open without running anything (see ``spreadsheet_safe``).

The studio's model card holds this file whole; ``python -m tlcore predict`` prints the same lines.
"""

import csv
import json
import re
import sys

import numpy as np

PAD_ID = 0  # the padding token's id: the model reads only the tokens that are not padding
BATCH = 32  # texts classified at a time
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection list,
# with the line feed and the NUL that other guides add).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def printable(text: str) -> str:
    """``text`` with each control character written as an escape (\\n, \\x1b), so it prints as one line."""
    def escape(char: str) -> str:
        return SHORT.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
    return CONTROL.sub(lambda m: escape(m[0]), text)


def spreadsheet_safe(cell):
    """A CSV cell that no spreadsheet runs as a formula: text that starts with = + - @, a tab, a
    carriage return, a line feed or a NUL (after any ' it starts with) gets a leading '. Numbers,
    and text that is a plain number ("-0.5"), are kept as they are."""
    text = cell.lstrip("'") if isinstance(cell, str) else ""
    return "'" + cell if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text) else cell


def encode(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    """The model's inputs for ``texts``: token ids (int64, padded with PAD_ID to the longest text)
    and the attention mask (1 for a text's tokens, 0 for the padding)."""
    encoded = tokenizer.encode_batch(texts)
    ids = np.full((len(texts), max(len(e.ids) for e in encoded)), PAD_ID, dtype=np.int64)
    for row, e in zip(ids, encoded):
        row[:len(e.ids)] = e.ids
    return {"input_ids": ids, "attention_mask": (ids != PAD_ID).astype(np.int64)}


def classify(session, tokenizer, texts: list[str]) -> np.ndarray:
    """The calibrated probabilities [texts, classes] that the ONNX model gives ``texts``."""
    out = [session.run(["probabilities"], encode(tokenizer, texts[i:i + BATCH]))[0]
           for i in range(0, len(texts), BATCH)]
    return np.concatenate(out)


def lines(texts: list[str], probabilities: np.ndarray, classes: list[str]) -> list[list[str]]:
    """One CSV row a text: the text (escaped), its class and that class's probability."""
    best = probabilities.argmax(1)
    return [[spreadsheet_safe(printable(t)), spreadsheet_safe(printable(classes[k])), f"{p[k]:.6f}"]
            for t, k, p in zip(texts, best, probabilities)]


def main(argv: list[str]) -> int:
    """``model.onnx tokenizer.json [TEXT...]`` (texts from stdin, one a line, when none is given)
    -> ``text,class,probability`` lines."""
    import onnxruntime
    from tokenizers import Tokenizer

    if len(argv) < 2:
        print("usage: python snippet.py model.onnx tokenizer.json [TEXT...]", file=sys.stderr)
        return 2
    session = onnxruntime.InferenceSession(argv[0], providers=["CPUExecutionProvider"])
    classes = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    tokenizer = Tokenizer.from_file(argv[1])
    texts = argv[2:] or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    if not texts:
        return 0
    csv.writer(sys.stdout, lineterminator="\n").writerows(lines(texts, classify(session, tokenizer, texts), classes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
