"""The model bundle: trained weights (safetensors) plus everything needed to use them (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from tlcore import __version__
from tlcore.models.catalog import get_spec
from tlcore.models.ensemble import EnsembleBackbone, build_ensemble
from tlcore.errors import TLError
from tlcore.models.net import Net, build_backbone
from tlcore.atomic import atomic_write_bytes, atomic_write_json
from tlcore.models.bundle_paths import META, Bundle

TOKENIZER = "tokenizer.json"  # a text model's tokenizer, as it cuts texts (tlcore.models.text_net)
DAMAGED_META = "The model's description ({meta}) is damaged and cannot be read; train the model again."
# A bundle whose weights no longer fit the network its model builds today (text runs saved before
# the text features grew from one view to three): nothing in the run is changed.
EARLIER_VERSION = ("This model was made by an earlier version of the studio and cannot be used by this one; "
                   "train it again with the same data and settings (the run is kept as it is).")
T_MIN, T_MAX = 0.05, 20.0  # the calibration temperatures training fits (and so a bundle carries)
PREPROCESSING = ("tlcore.data.portable: EXIF orientation; RGB with transparency on white; Pillow BILINEAR resize "
                 "so the shorter side is image_size; crop image_size x image_size at ((w - s) // 2, (h - s) // 2); "
                 "divide by 255; subtract mean, divide by std; NCHW float32")


def save_bundle(folder: Path, net: Net, classes: list[str], model: str, image_size: int,
                extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = get_spec(model)
    if isinstance(net.backbone, EnsembleBackbone):
        extra = {**(extra or {}), "ensemble": net.backbone.description}
    if net.normalised:
        extra = {**(extra or {}), "feature_norm": True}
    state = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    atomic_write_bytes(Bundle(folder).weights, save(state))  # a full disk: one line, and no half-written file
    if spec.kind == "text":
        from tlcore.models.text_net import text_tokenizer

        atomic_write_bytes(folder / TOKENIZER, text_tokenizer(spec).to_str().encode())
    meta = {
        "format": 1, "classes": list(classes), "model": model, "image_size": image_size,
        "mean": list(spec.mean), "std": list(spec.std), "preprocessing": PREPROCESSING,
        "catalog": spec.to_json(), "tlcore_version": __version__, "torch": torch.__version__,
        **(extra or {}),
    }
    atomic_write_json(Bundle(folder).meta, meta)
    return folder


def read_bundle_meta(folder: Path) -> dict:
    """The bundle's JSON, or a TLError saying the folder holds no trained model."""
    path = Bundle(Path(folder)).meta
    if not path.is_file():
        raise TLError(f"{folder} holds no trained model (no {META}). Pick a run that finished.")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # not JSON, or not text
        meta = None
    if not isinstance(meta, dict):
        raise TLError(DAMAGED_META.format(meta=META))
    return meta


def load_bundle(folder: Path) -> tuple[Net, dict]:
    """The trained network (eval mode, CPU) and its metadata."""
    meta = read_bundle_meta(folder)
    if "ensemble" in meta:
        backbone = build_ensemble(meta["image_size"], "none", meta["ensemble"])
        width = backbone.feature_dim
    else:
        spec = get_spec(meta["model"])
        backbone, _ = build_backbone(spec, weights="none", image_size=meta["image_size"])
        width = spec.feature_dim
    net = Net(backbone, width, len(meta["classes"]), norm=meta.get("feature_norm", False))
    state, expected = load_file(str(Bundle(Path(folder)).weights)), net.state_dict()
    if any(k in expected and v.shape != expected[k].shape for k, v in state.items()):
        raise TLError(EARLIER_VERSION)
    net.load_state_dict(state)
    return net.eval(), meta
