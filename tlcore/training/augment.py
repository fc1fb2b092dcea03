"""Augmentation presets and the step that turns cached uint8 images into normalised model input.

Training-time augmentation runs as batched tensor ops on the device the batch is prepared on (the
GPU when training on CUDA), not image by image: one affine resample per image does its random crop
and flip, then colour jitter. The random parameters, a handful of numbers per image, are drawn with
torch's global CPU generator and then moved to the device, so a seeded run draws the same ones on
CPU and CUDA, and a checkpoint's torch.get_rng_state() covers them."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PRESETS = {
    "none": "no changes: the model sees each image as it is",
    "light": "random crops (60-100% of the image) and left-right flips",
    "strong": "random crops (30-100%), flips, colour and brightness changes, some greyscale",
}
_MIN_AREA = {"light": 0.6, "strong": 0.3}  # smallest crop, as a fraction of the image's area
_MAX_RATIO = 4 / 3  # crop aspect ratios (width / height) are log-uniform in 3/4 .. 4/3
_JITTER = 0.3  # "strong": brightness, contrast and saturation factors are uniform in 1 +- this
_HUE = 0.05  # "strong": hue shift, as a fraction of a full turn, uniform in +- this
_GREY_P = 0.05  # "strong": chance that an image is made greyscale

# RGB -> YIQ: luma and two chroma axes. Gray (r = g = b) has zero chroma.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                    dtype=torch.float64)
_YIQ_INV = torch.linalg.inv(_YIQ)


def crop_params(n: int, height: int, width: int, min_area: float) -> torch.Tensor:
    """Random resized crops (area min_area..1, clamped to fit the image) with left-right flips
    (p=0.5) for n images, as [n,2,3] affine_grid matrices: output coords -> input coords.
    On non-square images a clamped crop can be smaller than min_area (the cache is square)."""
    area, ratio, u, v, flip = torch.rand(n, 5).unbind(1)
    area = min_area + (1 - min_area) * area
    ratio = _MAX_RATIO ** (2 * ratio - 1)
    w = (area * ratio * height / width).sqrt().clamp(max=1)  # crop size, fraction of the image's
    h = (area / ratio * width / height).sqrt().clamp(max=1)
    cx, cy = (1 - w) * (2 * u - 1), (1 - h) * (2 * v - 1)  # crop centre, in -1..1
    zero = torch.zeros(n)
    sign = torch.where(flip < 0.5, -1.0, 1.0)
    return torch.stack([torch.stack([w * sign, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)


def crop_flip(x: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """Resample float images [B,3,H,W] to [B,3,size,size] through per-image affine matrices.
    align_corners=False maps pixel edges to +-1, so the identity matrix reproduces the image."""
    grid = F.affine_grid(theta.to(x.dtype), [len(x), x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """Luma [B,1,H,W] with torchvision's weights."""
    r, g, b = x.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = factor.view(-1, 1, 1, 1)
    return (f * x + (1 - f) * other).clamp_(0, 1)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image brightness, as torchvision v2's adjust_brightness on floats in 0..1."""
    return (x * factor.view(-1, 1, 1, 1)).clamp_(0, 1)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image contrast: blend with the image's mean luma, as torchvision v2."""
    return _blend(x, _grey(x).mean((1, 2, 3), keepdim=True), factor)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image saturation: blend with the luma image, as torchvision v2 (0 gives greyscale)."""
    return _blend(x, _grey(x), factor)


def hue_matrices(shift: torch.Tensor) -> torch.Tensor:
    """[n,3,3] RGB -> RGB matrices that turn the hue by shift (fractions of a turn).
    A cheap stand-in for torchvision's HSV round trip: a rotation of the YIQ chroma plane,
    which keeps luma and leaves greys grey."""
    cos, sin = torch.cos(2 * math.pi * shift.double()), torch.sin(2 * math.pi * shift.double())
    rot = torch.eye(3, dtype=torch.float64).repeat(len(shift), 1, 1)
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    return (_YIQ_INV @ rot @ _YIQ).float()


def rotate_hue(x: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Apply per-image [B,3,3] colour matrices to [B,3,H,W] images, clamped to 0..1."""
    return (matrices.to(x.dtype) @ x.flatten(2)).view(x.shape).clamp_(0, 1)


class BatchPrep:
    """uint8 [B,3,H,W] images -> float input on the device: augmented (when training),
    scaled to 0..1, normalised with the model's mean/std, channels_last on CUDA."""

    def __init__(self, mean, std, device: torch.device, preset: str = "none", size: int = 224) -> None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown augmentation preset {preset!r}")
        self.device = device
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        self.preset, self.size = preset, size
        self.channels_last = device.type == "cuda"

    def __call__(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        x = self._unit(images)
        if train and self.preset != "none":
            x = self.augment(x)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def augmented_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images changed at random by the preset, as uint8 images again (rounded, as an
        8-bit image pipeline keeps them): what a backbone that normalises its own input takes."""
        return self.augment(self._unit(images)).mul_(255).round_().to(torch.uint8)

    def _unit(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images as floats in 0..1 on the device (moved as uint8: 4x less to copy)."""
        return images.to(self.device, non_blocking=True).float().div_(255)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The preset's random changes to float images in 0..1, batched on x's device."""
        n, _, height, width = x.shape
        theta = crop_params(n, height, width, _MIN_AREA[self.preset])
        x = crop_flip(x, theta.to(x.device, non_blocking=True), self.size)
        if self.preset == "strong":  # colour jitter in a fixed order (torchvision shuffles it)
            b, c, s, hue, grey = torch.rand(n, 5).unbind(1)
            factors = 1 + _JITTER * (2 * torch.stack([b, c, s]) - 1)
            factors[2] *= grey >= _GREY_P  # greyscale: saturation 0 gives torchvision's luma image
            factors = factors.to(x.device, non_blocking=True)
            x = adjust_brightness(x, factors[0])
            x = adjust_contrast(x, factors[1])
            x = rotate_hue(x, hue_matrices(_HUE * (2 * hue - 1)).to(x.device, non_blocking=True))
            x = adjust_saturation(x, factors[2])
        return x
