"""Export a trained classifier to ONNX or torch.export (.pt2) and prove the export is faithful.

The ONNX file is self-describing: besides "logits" it outputs the calibrated "probabilities",
and its metadata holds the class names, image size, mean and std that tlcore.data.portable (the
model card's standalone script) needs to use it."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from tlcore.atomic import atomic_write_bytes
from tlcore.models.bundle import load_bundle, read_bundle_meta
from tlcore.errors import TLError
from tlcore.rundir import RunDir
from tlcore.use.export_text import export_text_bundle, text_onnx_metadata
from tlcore.use.export_write import TOLERANCE, atomic_target as _atomic_target, cpu_copy as _cpu_copy
from tlcore.use.export_write import NOT_EXPORTED, export_failed as _export_failed, write_onnx
from tlcore.use.predict import not_sure_below_of, temperature_of
from tlcore.use.predict_text import is_text_model

# Trace on 3 images and verify on 2, so a batch size frozen into the export is caught.
_TRACE_BATCH = 3
_CHECK_BATCH = 2
ONNX_OUTPUTS = ["logits", "probabilities"]
UNFAITHFUL = ("The {fmt} export does not reproduce the model's predictions (largest difference {diff:.3g}, allowed "
              "{allowed:g}), so it was not saved. The model probably does something the exporter cannot record; use "
              "the model bundle instead.")
BAD_TEMPERATURE = "The calibration temperature must be a positive number, not {temperature}."


class _WithProbabilities(nn.Module):
    """The classifier with a second output: softmax(logits / temperature)."""

    def __init__(self, model: nn.Module, temperature: float) -> None:
        super().__init__()
        self.model, self.temperature = model, temperature

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        return logits, (logits / self.temperature).softmax(1)


def _images(image_size: int | tuple[int, int], n: int, seed: int) -> torch.Tensor:
    """A fixed random batch shaped like normalised images (zero mean, unit spread)."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    return torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _check(model: nn.Module, run_exported: Callable[[torch.Tensor], list[np.ndarray]],
           image_size: int | tuple[int, int], fmt: str) -> float:
    """Max abs difference between the model's outputs and its export's on fresh images; TLError
    if too big."""
    x = _images(image_size, _CHECK_BATCH, seed=1)
    with torch.no_grad():
        out = model(x)
    expected = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
    actual = run_exported(x)
    same_shapes = [e.shape for e in expected] == [a.shape for a in actual]
    diff = max(float(np.abs(e - a).max()) for e, a in zip(expected, actual)) if same_shapes else np.inf
    if not diff <= TOLERANCE:  # also catches NaN
        raise TLError(UNFAITHFUL.format(fmt=fmt, diff=diff, allowed=TOLERANCE))
    return diff


def export_onnx(model: nn.Module, image_size: int | tuple[int, int], out_path: Path,
                temperature: float = 1.0, metadata: dict[str, str] | None = None, opset: int = 17) -> float:
    """Export ``model`` to ONNX at ``out_path``, verify it with onnxruntime, return the max diff.

    The file takes "image" (float32 NCHW, any batch size) and returns "logits" and
    "probabilities" (softmax(logits / temperature)); ``metadata`` goes into its metadata_props.
    """
    if not (math.isfinite(temperature) and temperature > 0):
        raise TLError(BAD_TEMPERATURE.format(temperature=temperature))
    cpu_model = _WithProbabilities(_cpu_copy(model), float(temperature)).eval()
    metadata = dict(metadata or {})
    with _atomic_target(out_path) as tmp:
        session = write_onnx(cpu_model, (_images(image_size, _TRACE_BATCH, seed=0),), tmp, out_path, ["image"],
                             ONNX_OUTPUTS, {name: {0: "batch"} for name in ["image", *ONNX_OUTPUTS]}, metadata, opset)
        return _check(cpu_model, lambda x: session.run(ONNX_OUTPUTS, {"image": x.numpy()}),
                      image_size, "ONNX")


def onnx_metadata(meta: dict, not_sure_below: float | None = None) -> dict[str, str]:
    """What tlcore.data.portable reads from an ONNX file, from a bundle's model.json; ``not_sure_below``
    is the run's "not sure" rule (tlcore.use.notsure.rule_of), the bundle's own when None."""
    below = not_sure_below_of(meta) if not_sure_below is None else not_sure_below
    return {"classes": json.dumps(meta["classes"]), "image_size": str(meta["image_size"]),
            "mean": json.dumps(list(meta["mean"])), "std": json.dumps(list(meta["std"])),
            "temperature": repr(temperature_of(meta)), "not_sure_below": repr(float(below)),
            "model": meta["model"]}


def export_bundle(bundle_dir: Path, fmt: str, out_path: Path, not_sure_below: float | None = None) -> float:
    """Export a trained bundle as "onnx" (calibrated, with its metadata and the "not sure" threshold)
    or "pt2"; the max diff."""
    net, meta = load_bundle(Path(bundle_dir))
    if is_text_model(meta):  # token ids in, and its tokenizer.json beside the file
        return export_text_bundle(net, meta, Path(bundle_dir), fmt, out_path, not_sure_below)
    if fmt == "onnx":
        return export_onnx(net, meta["image_size"], out_path, temperature=temperature_of(meta),
                           metadata=onnx_metadata(meta, not_sure_below))
    return export_pt2(net, meta["image_size"], out_path)


def export_to_run(run: RunDir, fmt: str, not_sure_below: float) -> float:
    """Export the run's model as ``fmt`` ("onnx" or "pt2") into its folder, to be offered for
    download, and record the file's sha256 there (see ``current_export``); the max diff."""
    diff = export_bundle(run.bundle_path, fmt, run.export_path(fmt), not_sure_below)
    run.record_export(fmt)
    return diff


def current_export(run: RunDir, fmt: str, not_sure_below: float) -> bytes | None:
    """The run folder's export ``fmt`` ("onnx", "pt2" or "web"), when it can be shipped as it is:
    the file made and recorded there (its sha256: one changed since is not), newer than the model's
    weights (the web page, which words its rule, newer than the bundle and the "not sure" rule too)
    and, for ONNX, with both outputs and the bundle's metadata, "not sure" threshold included.
    None otherwise: then it is made again."""
    path = run.export_path(fmt)
    made_from = [run.bundle.weights] + ([run.bundle.meta, run.not_sure_path] if fmt == "web" else [])
    if not path.is_file() or any(f.is_file() and f.stat().st_mtime > path.stat().st_mtime for f in made_from):
        return None
    data = run.export_bytes(fmt)
    if data is None or fmt != "onnx":
        return data
    try:
        graph = onnx.load_from_string(data)
    except Exception:  # a damaged or foreign file is simply not a current export
        return None
    stored = {p.key: p.value for p in graph.metadata_props}
    meta = read_bundle_meta(run.bundle_path)
    expected = (text_onnx_metadata if is_text_model(meta) else onnx_metadata)(meta, not_sure_below)
    same = [o.name for o in graph.graph.output] == ONNX_OUTPUTS and all(stored.get(k) == v for k, v in expected.items())
    return data if same else None


def export_pt2(model: nn.Module, image_size: int | tuple[int, int], out_path: Path) -> float:
    """Export ``model`` with torch.export to ``out_path`` (.pt2), verify it, return the max diff.
    The program is saved in memory, then written whole: torch.export.save ends the whole process
    (a C++ error it cannot raise) when the disk fills up under it."""
    cpu_model = _cpu_copy(model)
    # min=1 allows single images although tracing uses 3 (torch.export specialises sizes 0/1).
    batch = torch.export.Dim("batch", min=1)
    saved = io.BytesIO()
    try:
        program = torch.export.export(
            cpu_model, (_images(image_size, _TRACE_BATCH, seed=0),),
            dynamic_shapes=({0: batch},),
        )
        torch.export.save(program, saved)
    except Exception as e:  # exporters raise many types; all mean "cannot export this"
        raise _export_failed("PyTorch 2 (.pt2)", e, out_path) from e
    # Verify the saved bytes, not the in-memory program, so a bad save is caught too.
    loaded = torch.export.load(io.BytesIO(saved.getvalue())).module()

    def run(x: torch.Tensor) -> list[np.ndarray]:
        with torch.no_grad():
            return [loaded(x).numpy()]

    diff = _check(cpu_model, run, image_size, "PyTorch 2 (.pt2)")
    atomic_write_bytes(Path(out_path), saved.getvalue())
    return diff
