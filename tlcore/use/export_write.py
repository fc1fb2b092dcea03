"""Writing an export safely and saying why one failed: shared by the image and the text exports."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import nn

from tlcore.atomic import disk_full, is_disk_full, temp_beside
from tlcore.errors import TLError

TOLERANCE = 1e-4  # the largest difference allowed between an export's outputs and the PyTorch model's


def cpu_copy(model: nn.Module) -> nn.Module:
    """An fp32 eval-mode copy on CPU, so the caller's model keeps its device and mode."""
    return copy.deepcopy(model).cpu().float().eval()


@contextmanager
def atomic_target(out_path: Path) -> Iterator[Path]:
    """A temporary file beside ``out_path`` that replaces it on success and vanishes on error (or
    at a later export, when this one is killed). It keeps the extension, for writers that go by it."""
    out_path = Path(out_path)
    try:
        with temp_beside(out_path, suffix=out_path.suffix) as tmp:
            yield tmp
            os.replace(tmp, out_path)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full(out_path) from e
        raise


NOT_EXPORTED = "This model could not be exported to {fmt}: {reason}"


def export_failed(fmt: str, error: Exception, out_path: Path) -> TLError:
    if is_disk_full(error):
        return disk_full(out_path)
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TLError(NOT_EXPORTED.format(fmt=fmt, reason=reason))


def write_onnx(module: nn.Module, args: tuple, tmp: Path, out_path: Path, inputs: list[str], outputs: list[str],
               axes: dict, metadata: dict[str, str], opset: int):
    """Export ``module`` called on ``args`` to the ONNX file ``tmp`` (``out_path`` once it is checked) with
    ``metadata`` in its metadata_props, and open it in onnxruntime; a TLError when it cannot be exported or
    loses its metadata."""
    import onnx
    import onnxruntime
    import torch

    try:
        # The classic TorchScript exporter (dynamo=False): the dynamo exporter needs the
        # onnxscript package, which is not a dependency. It still ships in torch 2.11-2.14;
        # it only warns that dynamo is now the default, so that warning is silenced, as is its
        # note that a Slice could not be constant-folded (it changes nothing in the graph).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
            warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)
            torch.onnx.export(module, args, str(tmp), dynamo=False, input_names=inputs, output_names=outputs,
                              dynamic_axes=axes, opset_version=opset)
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(graph, metadata)
        onnx.save(graph, str(tmp))
    except Exception as e:  # exporters raise many types; all mean "cannot export this"
        raise export_failed("ONNX", e, out_path) from e
    session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    stored = session.get_modelmeta().custom_metadata_map
    if any(stored.get(k) != v for k, v in metadata.items()):
        raise TLError("The ONNX file lost its metadata (class names, image size) on saving, so it was not saved.")
    return session
