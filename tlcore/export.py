"""Export a trained classifier to ONNX or torch.export (.pt2) and prove the export is faithful."""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn

from tlcore.errors import TLError

TOLERANCE = 1e-4
# Trace on 3 images and verify on 2, so a batch size frozen into the export is caught.
_TRACE_BATCH = 3
_CHECK_BATCH = 2


def _cpu_copy(model: nn.Module) -> nn.Module:
    """An fp32 eval-mode copy on CPU, so the caller's model keeps its device and mode."""
    return copy.deepcopy(model).cpu().float().eval()


def _images(image_size: int | tuple[int, int], n: int, seed: int) -> torch.Tensor:
    """A fixed random batch shaped like normalised images (zero mean, unit spread)."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    return torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


@contextmanager
def _atomic_target(out_path: Path) -> Iterator[Path]:
    """A temporary file beside ``out_path`` that replaces it on success and vanishes on error."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".tmp-", suffix=f"-{out_path.name}")  # keep the extension: torch.export.save wants .pt2
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, out_path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _check(model: nn.Module, run_exported: Callable[[torch.Tensor], np.ndarray],
           image_size: int | tuple[int, int], fmt: str) -> float:
    """Max abs difference between the model and its export on fresh images; TLError if too big."""
    x = _images(image_size, _CHECK_BATCH, seed=1)
    with torch.no_grad():
        expected = model(x).numpy()
    actual = run_exported(x)
    diff = float(np.abs(expected - actual).max()) if expected.shape == actual.shape else np.inf
    if not diff <= TOLERANCE:  # also catches NaN
        raise TLError(
            f"The {fmt} export does not reproduce the model's predictions (largest difference "
            f"{diff:.3g}, allowed {TOLERANCE:g}), so it was not saved. The model probably does "
            "something the exporter cannot record; use the model bundle instead."
        )
    return diff


def _export_failed(fmt: str, error: Exception) -> TLError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TLError(f"This model could not be exported to {fmt}: {reason}")


def export_onnx(model: nn.Module, image_size: int | tuple[int, int], out_path: Path,
                opset: int = 17) -> float:
    """Export ``model`` to ONNX at ``out_path``, verify it with onnxruntime, return the max diff.

    The file takes "image" (float32 NCHW, any batch size) and returns "logits".
    """
    cpu_model = _cpu_copy(model)
    with _atomic_target(out_path) as tmp:
        try:
            # The classic TorchScript exporter (dynamo=False): the dynamo exporter needs the
            # onnxscript package, which is not a dependency. It still ships in torch 2.11-2.14;
            # it only warns that dynamo is now the default, so that warning is silenced.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "You are using the legacy TorchScript",
                                        DeprecationWarning)
                torch.onnx.export(
                    cpu_model, (_images(image_size, _TRACE_BATCH, seed=0),), str(tmp),
                    dynamo=False, input_names=["image"], output_names=["logits"],
                    dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=opset,
                )
        except Exception as e:  # exporters raise many types; all mean "cannot export this"
            raise _export_failed("ONNX", e) from e
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        return _check(cpu_model, lambda x: session.run(["logits"], {"image": x.numpy()})[0],
                      image_size, "ONNX")


def export_pt2(model: nn.Module, image_size: int | tuple[int, int], out_path: Path) -> float:
    """Export ``model`` with torch.export to ``out_path`` (.pt2), verify it, return the max diff."""
    cpu_model = _cpu_copy(model)
    # min=1 allows single images although tracing uses 3 (torch.export specialises sizes 0/1).
    batch = torch.export.Dim("batch", min=1)
    with _atomic_target(out_path) as tmp:
        try:
            program = torch.export.export(
                cpu_model, (_images(image_size, _TRACE_BATCH, seed=0),),
                dynamic_shapes=({0: batch},),
            )
            torch.export.save(program, str(tmp))
        except Exception as e:  # exporters raise many types; all mean "cannot export this"
            raise _export_failed("PyTorch 2 (.pt2)", e) from e
        # Verify what is on disk, not the in-memory program, so a bad save is caught too.
        loaded = torch.export.load(str(tmp)).module()

        def run(x: torch.Tensor) -> np.ndarray:
            with torch.no_grad():
                return loaded(x).numpy()

        return _check(cpu_model, run, image_size, "PyTorch 2 (.pt2)")
