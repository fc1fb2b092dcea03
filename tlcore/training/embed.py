"""Computing backbone features (and other inference) with the fastest engine on the machine.

On the CPU, ONNX Runtime runs these networks 2-5x faster than PyTorch eager, so the backbone is
exported to an ONNX model and checked against PyTorch on batches of NEW_GRAPH_SIZES images; on a
GPU, PyTorch with bf16 autocast and channels_last is used. An unchanged pretrained backbone's ONNX
model is kept in the workspace with its sha256, so later runs skip the export (1-2 s on 2 cores):
they use it only when its bytes are still the ones recorded, and check it on this backbone's
weights (KEPT_GRAPH_SIZES); any other graph is exported again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tlcore.training.augment import BatchPrep
from tlcore.training.loop import predict_logits

TOLERANCE = 1e-4  # the largest absolute difference allowed between ONNX Runtime's and PyTorch's outputs
# A new graph is checked on batches of these sizes (a batch size frozen into it, or anything else
# that depends on the batch, shows); a kept one, byte for byte a graph that passed that check, on
# fewer images, which show whether it holds this backbone's weights.
NEW_GRAPH_SIZES = (1, 3, 7)
KEPT_GRAPH_SIZES = (1, 3)
_VERSION_MARK = "-torch"  # kept graphs are named <key>-torch<version>.onnx
KEPT_GRAPHS = 6  # the most recently used graphs kept in the workspace (13-60 MB each)
_log = logging.getLogger(__name__)


def _export(module: nn.Module, example: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    # Token ids [N, L] (tlcore.models.text_net) come as long as a batch's longest text.
    length = {1: "length"} if not example.is_floating_point() and example.dim() == 2 else {}
    with warnings.catch_warnings():  # the TorchScript-based exporter warns it is deprecated
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example[:1],), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", **length}, "y": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    return buf.getvalue()


def _session(graph: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3
    # Idle ORT threads spin by default, stealing the cores the head's training needs next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_mem_pattern = False  # its planning made the first two calls 2-3x slower
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def varied_batch(example: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` inputs made from ``example``'s: the examples, then mirrored, flipped and turned copies
    of them (repeated only when still too few), so each of a check's inputs differs from the others."""
    views = torch.cat([example, example.flip(-1), example.flip(-2), example.flip(-1, -2)])
    return views.repeat(-(-n // len(views)), *[1] * (views.dim() - 1))[:n]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hash_path(graph: Path) -> Path:
    """Where the sha256 of a kept graph, recorded when it was written, is kept: beside it."""
    return graph.with_name(graph.name + ".sha256")


class OnnxRunner:
    """A module's eval-mode forward, run by ONNX Runtime on the CPU. With ``kept``, the ONNX model
    is read from that file when it is the one recorded there (its sha256) and computes what
    ``module`` does, and otherwise exported and written there, with its sha256, for the next time."""

    def __init__(self, module: nn.Module, example: torch.Tensor, kept: Path | None = None) -> None:
        module = module.eval()
        if kept is not None and self._reuse(kept, module, example):
            return
        graph = _export(module, example)
        self._session = _session(graph)
        self.verify(module, example, NEW_GRAPH_SIZES)
        if kept is not None:
            _keep(kept, graph)

    def _reuse(self, kept: Path, module: nn.Module, example: torch.Tensor) -> bool:
        try:
            graph, record = kept.read_bytes(), _hash_path(kept)
            if not record.is_file():
                raise ValueError("no sha256 was recorded when it was made")
            if _sha256(graph) != record.read_text().strip():
                raise ValueError("its contents are not the ones recorded when it was made")
            self._session = _session(graph)
            self.verify(module, example, KEPT_GRAPH_SIZES)
        except Exception as e:  # missing, unrecorded, changed, damaged, or from other weights: exported again
            if kept.exists():
                _log.warning("Not reusing the kept ONNX model %s (%s); exporting it again", kept.name, e)
            return False
        with contextlib.suppress(OSError):  # its time of last use, which decides what _keep removes
            os.utime(kept)
        return True

    def verify(self, module: nn.Module, example: torch.Tensor, sizes: tuple[int, ...] = KEPT_GRAPH_SIZES) -> None:
        """Raise unless this session computes what ``module`` computes, within TOLERANCE, on batches
        of each of ``sizes`` inputs made from ``example`` (``varied_batch``)."""
        batch = varied_batch(example, max(sizes))
        with torch.no_grad():
            expected = module.eval()(batch).numpy()
        for n in sizes:
            out = self.run(batch[:n])
            diff = float(np.abs(out - expected[:n]).max()) if out.shape == expected[:n].shape else np.inf
            if not diff <= TOLERANCE:  # also catches NaN
                raise ValueError(f"ONNX Runtime differs from PyTorch by {diff:.2e} on {n} inputs")

    def run(self, x: torch.Tensor) -> np.ndarray:
        return self._session.run(None, {"x": x.contiguous().numpy()})[0]


def _keep(path: Path, graph: bytes) -> None:
    """Write ``graph`` to ``path`` and its sha256 beside it, removing the same backbone's graphs from
    other PyTorch versions (never read again) and all but the KEPT_GRAPHS most recently used ones."""
    from tlcore.atomic import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, graph)
        atomic_write_bytes(_hash_path(path), _sha256(graph).encode())
        same = path.name.rsplit(_VERSION_MARK, 1)[0] + _VERSION_MARK
        others = [g for g in path.parent.glob(f"*{_VERSION_MARK}*.onnx") if g != path]
        kept = sorted((g for g in others if not g.name.startswith(same)), key=lambda g: g.stat().st_mtime,
                      reverse=True)[:KEPT_GRAPHS - 1]
        for old in others:
            if old not in kept:
                old.unlink(missing_ok=True)
                _hash_path(old).unlink(missing_ok=True)
    except OSError as e:  # a full or read-only disk costs the next run the export, nothing more
        _log.warning("Could not keep the ONNX model for later runs (%s)", e)


def kept_graph(key: tuple) -> Path:
    """Where the ONNX model of the pretrained backbone named ``key`` is kept between runs."""
    from tlcore.workspace import graphs_dir

    return graphs_dir() / ("-".join(str(k) for k in key) + f"{_VERSION_MARK}{torch.__version__}.onnx")


_RUNNERS: dict[tuple, OnnxRunner] = {}  # sessions this process made, by the caller's key


def embedder_key(recipe: str, model: str, image_size: int) -> tuple:
    """The name of an unchanged pretrained backbone's session: the recipe's network(s) at a size."""
    return (recipe, model, image_size)


class _FromPixels(nn.Module):
    """A backbone taking uint8 images: ``prepare`` (its normalisation) runs inside the ONNX model,
    where it costs 0.3 ms an image less than in PyTorch before each batch (Lite1 at 208 px, 2 cores:
    a twentieth of the features' time)."""

    def __init__(self, backbone: nn.Module, prepare: BatchPrep) -> None:
        super().__init__()
        self.backbone, self.prepare = backbone, prepare

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.prepare(images))


class Embedder:
    """Features [N, D] (float32, CPU) of uint8 images from a frozen backbone in eval mode, by
    ONNX Runtime on the CPU when it reproduces PyTorch, else by PyTorch.

    ``key`` names an unchanged pretrained backbone (model, image size): its ONNX Runtime session
    is kept for the life of the process and reused, after checking it on this backbone, and its
    ONNX model is kept in the workspace for later processes (``kept_graph``)."""

    def __init__(self, backbone: nn.Module, prepare: BatchPrep, device: torch.device, example: torch.Tensor,
                 batch_size: int | None = None, key: tuple | None = None) -> None:
        self.backbone, self.prepare, self.device = backbone, prepare, device
        self._runner = None
        if device.type == "cpu" and len(example):
            x, module = example[:max(NEW_GRAPH_SIZES)], _FromPixels(backbone, prepare)
            try:
                if key in _RUNNERS:
                    _RUNNERS[key].verify(module, x)
                    self._runner = _RUNNERS[key]
                else:
                    self._runner = OnnxRunner(module, x, None if key is None else kept_graph(key))
                    if key is not None:
                        _RUNNERS[key] = self._runner
            except Exception as e:  # any exporter or runtime gap: PyTorch gives the same answer, slower
                _log.warning("ONNX Runtime not used for features (%s); using PyTorch", e)
        # ONNX Runtime on a CPU is as fast per image at batch 16 as at 64, and its first batches,
        # which size its memory, cost 0.3 s instead of 1.2 s (Lite0, 64 images, 2 cores).
        self.batch_size = batch_size or (16 if self._runner else 64)

    @property
    def engine(self) -> str:
        return "onnxruntime" if self._runner else "pytorch"

    def __call__(self, images: torch.Tensor, on_batch: Callable[[int, int], None] | None = None,
                 augment: BatchPrep | None = None) -> torch.Tensor:
        """Features of ``images``; with ``augment`` (a preparation with an augmentation preset), of
        a randomly augmented version of each, kept as an 8-bit image (both engines alike)."""
        pixels = augment.augmented_pixels if augment else (lambda x: x)
        if self._runner is None:
            prepare = lambda x, train=False: self.prepare(pixels(x))
            return predict_logits(self.backbone, images, prepare, self.batch_size, self.device, on_batch)
        out = []
        for i in range(0, len(images), self.batch_size):
            out.append(torch.from_numpy(self._runner.run(pixels(images[i:i + self.batch_size]))))
            if on_batch:
                on_batch(min(i + self.batch_size, len(images)), len(images))
        return torch.cat(out) if out else torch.empty(0)
