"""Augmentation presets (torchvision.transforms.v2) and the step that turns cached uint8
images into normalised model input."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

PRESETS = {
    "none": "no changes: the model sees each image as it is",
    "light": "random crops (60-100% of the image) and left-right flips",
    "strong": "random crops (30-100%), flips, colour and brightness changes, some greyscale",
}


def augmentation(preset: str, size: int) -> v2.Transform | None:
    """The per-image random transform for a preset, or None for "none"."""
    if preset == "none":
        return None
    if preset == "light":
        return v2.Compose([v2.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True),
                           v2.RandomHorizontalFlip()])
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05),
        v2.RandomGrayscale(p=0.05),
    ])


class BatchPrep:
    """uint8 [B,3,H,W] images -> float input on the device: augmented (when training),
    scaled to 0..1, normalised with the model's mean/std, channels_last on CUDA."""

    def __init__(self, mean, std, device: torch.device, preset: str = "none", size: int = 224) -> None:
        self.device = device
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        self.augment = augmentation(preset, size)
        self.channels_last = device.type == "cuda"

    def __call__(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        if train and self.augment is not None:
            # v2 transforms draw one set of random parameters per call, so go image by image.
            images = torch.stack([self.augment(img) for img in images])
        x = images.to(self.device, non_blocking=True).float().div_(255)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
