"""Export a trained text classifier to ONNX and prove the export is faithful.

The file takes ``input_ids`` and ``attention_mask`` (int64 [batch, length], any batch and length:
the tokens of ``tokenizer.json``, padded with 0 to the longest text, and 1 where a text has a token)
and returns ``logits`` and the calibrated ``probabilities``. Its metadata holds the class names, the
calibration temperature, the "not sure" threshold and the token limit; the model's tokenizer is
written beside it as ``tokenizer.json``, which the model card's script (tlcore.use.export_text_script)
reads with ``tokenizers``.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tlcore.errors import TLError
from tlcore.models.bundle import TOKENIZER
from tlcore.models.net import Net
from tlcore.models.text_net import TextTokenizer
from tlcore.use.export_write import TOLERANCE, atomic_target, cpu_copy, write_onnx
from tlcore.use.predict import not_sure_below_of, temperature_of

TEXT_INPUTS = ["input_ids", "attention_mask"]
TEXT_OUTPUTS = ["logits", "probabilities"]
# Traced on 3 texts, checked on batches of other sizes and lengths, so nothing about either is frozen in.
_TRACE = ["A short text.", "A second, somewhat longer text to trace the model with.", "Third."]
_CHECK = ["Checking the export on another batch of texts, one of them much longer than the others, "
          "so that the padding is exercised as well.", "A short one.", "Mid-length text here, once more."]


class _TextWithProbabilities(nn.Module):
    """The text classifier taking the tokens and their mask, with a second output:
    softmax(logits / temperature)."""

    def __init__(self, net: Net, temperature: float) -> None:
        super().__init__()
        self.net, self.temperature = net, temperature

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net.head(self.net.norm(self.net.backbone.features(input_ids, attention_mask)))
        return logits, (logits / self.temperature).softmax(1)


def _inputs(tokenizer: TextTokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    ids = tokenizer(texts).ids
    return ids, (ids != 0).long()


def text_onnx_metadata(meta: dict, not_sure_below: float | None = None) -> dict[str, str]:
    """What the model card's script and the studio read from a text model's ONNX file."""
    below = not_sure_below_of(meta) if not_sure_below is None else not_sure_below
    return {"classes": json.dumps(meta["classes"]), "kind": "text", "max_tokens": str(meta["catalog"]["max_tokens"]),
            "temperature": repr(temperature_of(meta)), "not_sure_below": repr(float(below)), "model": meta["model"]}


def export_text_onnx(net: Net, tokenizer_path: Path, out_path: Path, temperature: float,
                     metadata: dict[str, str], opset: int = 17) -> float:
    """Export the text classifier ``net`` to ONNX at ``out_path`` and its tokenizer beside it
    (``tokenizer.json``), verify the file with onnxruntime against the PyTorch model on texts of
    other lengths and another batch size, and return the largest difference."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise TLError(f"The calibration temperature must be a positive number, not {temperature}.")
    model = _TextWithProbabilities(cpu_copy(net), float(temperature)).eval()
    tokenizer = TextTokenizer(tokenizer_path, int(metadata["max_tokens"]))
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
            "logits": {0: "batch"}, "probabilities": {0: "batch"}}
    out_path = Path(out_path)
    with atomic_target(out_path) as tmp:
        session = write_onnx(model, _inputs(tokenizer, _TRACE), tmp, out_path, TEXT_INPUTS, TEXT_OUTPUTS, axes,
                             metadata, opset)
        diff = 0.0
        for texts in (_CHECK, _CHECK[1:]):
            ids, mask = _inputs(tokenizer, texts)
            with torch.no_grad():
                expected = [t.numpy() for t in model(ids, mask)] + [model.net(ids).numpy()]
            actual = session.run(TEXT_OUTPUTS, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
            actual = actual + [actual[0]]  # the logits match the studio's own network too
            diff = max([diff] + [float(np.abs(e - a).max()) for e, a in zip(expected, actual)])
        if not diff <= TOLERANCE:  # also catches NaN
            raise TLError(f"The ONNX export does not reproduce the model's predictions (largest difference {diff:.3g}, "
                          f"allowed {TOLERANCE:g}), so it was not saved; use the model bundle instead.")
    shutil.copyfile(tokenizer_path, out_path.with_name(TOKENIZER))
    return diff


def export_text_bundle(net: Net, meta: dict, bundle_dir: Path, fmt: str, out_path: Path,
                       not_sure_below: float | None = None) -> float:
    """``tlcore.use.export.export_bundle`` for a text model (ONNX only)."""
    if fmt != "onnx":
        raise TLError("A text model is exported as ONNX (with its tokenizer.json); choose the ONNX format.")
    return export_text_onnx(net, Path(bundle_dir) / TOKENIZER, out_path, temperature_of(meta),
                            text_onnx_metadata(meta, not_sure_below))
