"""Choosing the compute device, and saying which it is in words."""

from __future__ import annotations

import torch

from tlcore.errors import TLError


def resolve_device(choice: str) -> torch.device:
    """"auto" picks the GPU when there is one; asking for "cuda" without one is an error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise TLError("A GPU was requested, but this machine has none that PyTorch can use. "
                      "Choose 'auto' or 'cpu' as the device.")
    return torch.device(choice)


def gpu_name() -> str | None:
    """The name of this computer's first graphics card that PyTorch can use, or None."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def device_words(choice: str, gpu: str | None = None) -> str:
    """Where a run with device ``choice`` ("auto", "cpu", "cuda") computes, in words for the
    page, on a computer whose graphics card is ``gpu`` (None: it has none)."""
    if choice == "cpu" or (choice == "auto" and not gpu):
        return "on this computer's processor (CPU)"
    if not gpu:
        return "on a graphics card, but this computer has none that can be used"
    return f"on the graphics card ({gpu})"


def place_on_device(inputs: torch.Tensor, device: torch.device, share: float = 0.25) -> torch.Tensor:
    """Where a run keeps its training inputs (decoded images, or cached features) for the epochs:
    on the GPU when they take less than ``share`` of its free memory (batches are then sliced
    there, never copied), else in pinned host memory (asynchronous copies); on a CPU run, where
    they are."""
    if device.type != "cuda":
        return inputs
    free, _ = torch.cuda.mem_get_info(device)
    return inputs.to(device) if inputs.numel() * inputs.element_size() < free * share else inputs.pin_memory()
