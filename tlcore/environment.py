"""What a run was made with: library versions, machine and code version, for its record."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import torch

from tlcore import __version__


def code_version() -> str:
    """The git commit of this code (with "+changes" when the tree is modified), if known."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}{'+changes' if dirty else ''}" if commit else "unknown"


def describe() -> dict:
    """JSON-safe description of the software and hardware."""
    return {
        "tlcore": __version__, "code_version": code_version(), "python": sys.version.split()[0],
        "torch": torch.__version__, "torchvision": version("torchvision"),
        "platform": platform.platform(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
