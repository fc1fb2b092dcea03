"""Writing an export safely and saying why one failed: shared by the image and the text exports."""

from __future__ import annotations

import copy
import os
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


def export_failed(fmt: str, error: Exception, out_path: Path) -> TLError:
    if is_disk_full(error):
        return disk_full(out_path)
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TLError(f"This model could not be exported to {fmt}: {reason}")
