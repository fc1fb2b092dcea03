"""Recommending a training strategy from the data: how many stages to train, how long, how
much augmentation, with the reasons in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from tlcore.loop import Prepare, predict_logits

# Mean top-1 ImageNet confidence of a pretrained model on everyday photos is roughly 0.4-0.8;
# on drawings, X-rays, spectrograms or tiny greyscale crops it falls to about 0.1-0.3.
NATURAL_THRESHOLD = 0.35


@dataclass(frozen=True)
class Recommendation:
    """A strategy and why; JSON-safe."""

    trainable_stages: int
    epochs: int
    augment: str
    naturalness: float | None
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def naturalness(backbone: nn.Module, imagenet_head: nn.Module, images: torch.Tensor,
                prepare: Prepare, device: torch.device) -> float:
    """How much the images look like ImageNet photos: the pretrained model's mean top-1
    confidence on them (0..1)."""
    model = nn.Sequential(backbone, imagenet_head).to(device)
    logits = predict_logits(model, images, prepare, 32, device)
    return float(logits.softmax(1).max(1).values.mean())


def recommend(images_per_class: dict[str, int], natural: float | None, num_stages: int,
              gpu: bool) -> Recommendation:
    """Pick how many of the last stages to train, the epochs and the augmentation.

    Few images per class: only a new head can be learned without memorising them, so the
    backbone stays frozen (feature extraction). More images, and images unlike ImageNet
    photos, justify adapting more of the network. ``natural`` is None when unknown (a model
    from an earlier run has no ImageNet classifier to ask).
    """
    smallest = min(images_per_class.values())
    like_photos = natural is None or natural >= NATURAL_THRESHOLD
    looks = ("may differ from the model's training photos; that was not measured" if natural is None
             else "look like everyday photos, which the model was trained on" if like_photos
             else "look different from the everyday photos the model was trained on")
    if smallest < 40:
        stages, epochs = 0, 40
        why = (f"The smallest class has {smallest} training images. With so few, retraining the "
               "network would memorise them, so only a new final layer is trained on top of the "
               "frozen pretrained network (feature extraction).")
    elif smallest < 300:
        stages, epochs = (1 if like_photos else 2), 15
        why = (f"With {smallest}+ training images per class (images that {looks}), the last "
               f"{stages} stage(s) are fine-tuned along with a new final layer.")
    else:
        stages = num_stages // 2 if like_photos else num_stages
        epochs = 10
        why = (f"With {smallest}+ training images per class there is enough data to fine-tune "
               f"{'half' if like_photos else 'all'} of the network; the images {looks}.")
    if stages == 0 and not gpu:
        augment = "none"
        how = ("Augmentation is off so each image passes through the network only once; training "
               "then takes seconds on this computer.")
    else:
        augment = "light" if smallest >= 300 or stages == 0 else "strong"
        how = (f"Images are varied during training ({augment} augmentation) so the model learns "
               "the object rather than the exact photo.")
    reason = f"{why} {how}"
    if natural is not None:
        reason += f" The pretrained model's confidence on your images is {natural:.0%}: they {looks}."
    return Recommendation(stages, epochs, augment, None if natural is None else round(natural, 4), reason)


def dataset_naturalness(data: str, model: str, sample: int = 32, seed: int = 0) -> float | None:
    """``naturalness`` of up to ``sample`` images of a dataset folder (or zip) for a catalog
    model; None when that model's pretrained weights are not on this machine."""
    from tlcore.augment import BatchPrep
    from tlcore.catalog import get_spec
    from tlcore.dataset import load_source
    from tlcore.images import decode_many
    from tlcore.net import availability, build_backbone
    from tlcore.workspace import datasets_dir

    spec = get_spec(model)
    if availability(spec) == "download":
        return None
    items = load_source(data, datasets_dir()).items
    picks = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed))[:sample].tolist()
    images, _ = decode_many([items[i].path for i in picks], spec.image_size)
    backbone, imagenet = build_backbone(spec)
    cpu = torch.device("cpu")
    return naturalness(backbone, imagenet, images, BatchPrep(spec.mean, spec.std, cpu), cpu)
