"""The parts of a model card that differ for a text model: what it reads, how a text becomes the
model's input, and the standalone script (tlcore.use.export_text_script, whole) that reproduces
``python -m tlcore predict`` with onnxruntime, tokenizers and numpy alone."""

from __future__ import annotations

import inspect

from tlcore.markdown import escape
from tlcore.models.catalog import ModelSpec
from tlcore.use import export_text_script
from tlcore.use.predict import temperature_of

USAGE = ("With this project (`pip install -r requirements.txt`): `python -m tlcore predict --run RUN --text \"A text.\"` "
         "(or .txt files, one text each, or a table of texts, `texts.csv`); it prints `text,class,probability` a "
         "text. In Python: `TextPredictor(\"bundle\").predict_texts([\"A text.\"])` (`from tlcore.use.predict_text "
         "import TextPredictor`; \"bundle\" is the unzipped bundle folder).")
# A frozen text run's training (tlcore.training.text_recipe): one fit, no epochs or augmentation.
FROZEN = ("feature extraction: the pretrained encoder was frozen, and a logistic regression on its features of each "
          "text (the mean and the [CLS] vector of its last layer, the mean of the layer below) and of the class "
          "names, read as texts, was fitted once and kept as the final layer")
LIMITS = ["- It only knows the classes above: any other text is still given one of them.",
          "- Scores were measured on texts like the training texts; texts of another kind, topic or language may "
          "score lower."]


def base_model(spec: ModelSpec) -> str:
    return f"{spec.title} ({spec.name}), a pretrained sentence encoder ({spec.params_m}M parameters): {spec.blurb}"


def input_line(meta: dict) -> str:
    limit = meta["catalog"]["max_tokens"]
    return (f"- **Input:** a text, cut at {limit} tokens (about {round(limit * 0.75 / 10) * 10} words), prepared "
            "as described under Preprocessing")


def preprocessing(meta: dict, not_sure: str) -> list[str]:
    """Every step between a text and the model's answer, as the studio does it."""
    limit, t = meta["catalog"]["max_tokens"], temperature_of(meta)
    return [
        "## Preprocessing", "",
        "Each text goes through these steps, in training, in `python -m tlcore predict` and in the script below:", "",
        "1. **Text.** The text as written (a file's text or a table cell, with the spaces around it removed); "
        "HTML, Markdown and any other markup are characters of the text, never interpreted.",
        f"2. **Tokens.** `tokenizer.json` (the model's own WordPiece tokenizer, exported beside the ONNX file) "
        f"turns it into token ids, starting with [CLS] (101) and ending with [SEP] (102), cut at {limit} tokens "
        "in all (a longer text keeps its beginning).",
        "3. **Batch.** The texts of a batch are padded on the right with 0 ([PAD]) to the longest; `input_ids` is "
        "int64 N x length, and `attention_mask` (int64) is 1 for a text's tokens and 0 for the padding.",
        f"4. **Output.** `logits`: one raw score per class, in the order of the class list above. `probabilities`: "
        f"softmax(logits / {t!r}), where {t!r} is the calibration temperature (1 means uncalibrated); these are "
        f"the probabilities `python -m tlcore predict` prints. The answer is the class with the highest "
        f"probability. {not_sure}",
    ]


def standalone(run_name: str) -> list[str]:
    """The script, whole, and how to run it."""
    return [
        "## Use it without this project", "",
        "Save this as `snippet.py` and run `python snippet.py model.onnx tokenizer.json \"A text.\" \"Another.\"`, "
        "or give it one text a line on its input (`python snippet.py model.onnx tokenizer.json < texts.txt`). It "
        "needs only `pip install onnxruntime tokenizers numpy`, and prints `text,class,probability` a text.",
        "Get `model.onnx` and `tokenizer.json` from the studio's Use page (\"Download the model\", ONNX), or with "
        f"`python -m tlcore export --run RUN --format onnx --out model.onnx` (RUN: this run's folder, "
        f"{escape(run_name)}), which writes `tokenizer.json` beside it.", "",
        "```python", inspect.getsource(export_text_script).rstrip("\n"), "```",
    ]
