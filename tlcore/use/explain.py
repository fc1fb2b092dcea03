"""Where the model looked: Grad-CAM heatmaps (pytorch-grad-cam), for a trained run and one image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from torch import nn

from tlcore.training.augment import BatchPrep
from tlcore.models.bundle import load_bundle
from tlcore.models.catalog import get_spec
from tlcore.models.ensemble import cam_layer
from tlcore.data.images import load_square_uint8
from tlcore.rundir import RunDir


def _tokens_to_map(tokens: torch.Tensor) -> torch.Tensor:
    """ViT activations [B, 1+H*W, C] -> [B, C, H, W], dropping the class token."""
    patches = tokens[:, 1:, :]
    side = int(patches.shape[1] ** 0.5)
    return patches.reshape(patches.shape[0], side, side, -1).permute(0, 3, 1, 2)


def heatmap(net: nn.Module, cam_layer: str, x: torch.Tensor, target: int, vit: bool = False) -> np.ndarray:
    """Grad-CAM of class ``target`` for one normalised image ``x`` [1,3,H,W]: float32 HxW in 0..1."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = net.backbone.get_submodule(cam_layer)
    with GradCAM(model=net, target_layers=[layer], reshape_transform=_tokens_to_map if vit else None) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0].astype(np.float32)


def gradcam(run_dir: str | Path, image_path: str | Path, target: int | None = None
            ) -> tuple[np.ndarray, np.ndarray, str]:
    """The image as the model saw it (uint8 HxWx3), a heatmap (float32 HxW in 0..1) of the regions
    that drove the score of ``target`` (default: the predicted class), and the predicted class."""
    net, meta = load_bundle(RunDir(run_dir).bundle_path)
    spec = get_spec(meta["model"])
    image = load_square_uint8(image_path, meta["image_size"])
    x = BatchPrep(meta["mean"], meta["std"], torch.device("cpu"))(image[None])
    with torch.no_grad():
        predicted = int(net(x).argmax(1))
    layer = spec.cam_layer
    if "ensemble" in meta:  # one member, on the image as it is: Grad-CAM follows one pass through one layer
        layer, net.backbone.flip = cam_layer(meta["ensemble"]), False
        net.requires_grad_(True)  # a loaded ensemble is frozen; Grad-CAM needs its gradients
    heat = heatmap(net, layer, x, predicted if target is None else target, spec.name.startswith("vit"))
    return image.permute(1, 2, 0).numpy(), heat, meta["classes"][predicted]
