"""Batched on-device augmentation: exact when off, torchvision-equivalent colour maths, seeded."""

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from tlcore.training.augment import (BatchPrep, adjust_brightness, adjust_contrast, adjust_saturation, crop_flip,
                            crop_params, hue_matrices, rotate_hue)

CPU = torch.device("cpu")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _uint8(n=4, h=32, w=32, seed=0):
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _floats(n=4, h=16, w=20, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _plain(images):
    x = images.float() / 255
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


@pytest.mark.parametrize("preset, train", [("none", True), ("none", False), ("light", False), ("strong", False)])
def test_without_augmentation_the_output_is_the_plain_normalisation(preset, train):
    images = _uint8()
    out = BatchPrep(MEAN, STD, CPU, preset, size=32)(images, train)
    assert out.dtype == torch.float32 and torch.equal(out, _plain(images))


def test_identity_crop_reproduces_the_image_and_a_flip_equals_torch_flip():
    x = _floats(h=32, w=32)
    identity = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(len(x), 2, 3)
    flip = torch.tensor([[-1.0, 0, 0], [0, 1, 0]]).expand(len(x), 2, 3)
    assert (crop_flip(x, identity, 32) - x).abs().max() < 1e-5
    assert (crop_flip(x, flip, 32) - torch.flip(x, dims=[3])).abs().max() < 1e-5



def test_a_crop_is_a_bilinear_upscale_of_that_part_of_the_image():
    x = _floats(h=32, w=32)
    left_half = torch.tensor([[0.5, 0, -0.5], [0, 1, 0]]).expand(len(x), 2, 3)
    expected = F.interpolate(x[..., :16], size=(32, 32), mode="bilinear", align_corners=False)
    # the last column also blends in the pixel just right of the crop, which interpolate cannot see
    assert (crop_flip(x, left_half, 32) - expected)[..., :-1].abs().max() < 1e-5


@pytest.mark.parametrize("factor", [0.0, 0.7, 1.0, 1.3, 2.0])
def test_brightness_contrast_saturation_match_torchvision(factor):
    x = _floats()
    f = torch.full((len(x),), factor)
    for ours, theirs in ((adjust_brightness, TF.adjust_brightness), (adjust_contrast, TF.adjust_contrast),
                         (adjust_saturation, TF.adjust_saturation)):
        expected = torch.stack([theirs(img, factor) for img in x])
        assert (ours(x, f) - expected).abs().max() < 1e-5, ours.__name__


def test_per_image_factors_apply_to_their_own_image():
    x = _floats()
    factors = torch.tensor([0.7, 0.9, 1.1, 1.3])
    expected = torch.stack([TF.adjust_contrast(img, float(f)) for img, f in zip(x, factors)])
    assert (adjust_contrast(x, factors) - expected).abs().max() < 1e-5


def test_hue_rotation_by_zero_is_identity_and_greys_stay_grey():
    x = _floats()
    assert (rotate_hue(x, hue_matrices(torch.zeros(len(x)))) - x).abs().max() < 1e-5
    grey = x[:, :1].expand_as(x).contiguous()
    turned = rotate_hue(grey, hue_matrices(torch.tensor([0.05, -0.05, 0.25, 0.5])))
    assert (turned - grey).abs().max() < 1e-5
    assert (rotate_hue(x, hue_matrices(torch.full((len(x),), 0.05))) - x).abs().max() > 1e-3  # it does turn


@pytest.mark.parametrize("preset", ["light", "strong"])
def test_seeded_augmentation_is_reproducible(preset):
    prep, images = BatchPrep(MEAN, STD, CPU, preset, size=32), _uint8()

    def run(seed):
        torch.manual_seed(seed)
        return prep(images, True)

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


@pytest.mark.parametrize("height, width", [(32, 32), (32, 48), (48, 32)])
def test_light_crop_parameters_stay_in_range(height, width):
    torch.manual_seed(0)
    theta = crop_params(5000, height, width, 0.6)
    w, h, cx, cy = theta[:, 0, 0].abs(), theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2]
    assert torch.equal(theta[:, 0, 1], torch.zeros(5000)) and torch.equal(theta[:, 1, 0], torch.zeros(5000))
    assert (w > 0).all() and (w <= 1).all() and (h > 0).all() and (h <= 1).all()
    assert (cx.abs() + w <= 1 + 1e-6).all() and (cy.abs() + h <= 1 + 1e-6).all()  # inside the image
    if height == width:  # cached images are square; there clamping keeps area and ratio in range
        assert (w * h >= 0.6 - 1e-6).all()
        assert (w / h >= 3 / 4 - 1e-5).all() and (w / h <= 4 / 3 + 1e-5).all()
    flipped = (theta[:, 0, 0] < 0).float().mean()
    assert 0.45 < flipped < 0.55


@pytest.mark.parametrize("preset", ["light", "strong"])
@pytest.mark.parametrize("height, width", [(32, 32), (32, 48)])
def test_augmented_output_shape_dtype_and_values(preset, height, width):
    torch.manual_seed(0)
    out = BatchPrep(MEAN, STD, CPU, preset, size=40)(_uint8(6, height, width), True)
    assert out.shape == (6, 3, 40, 40) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    low, high = _plain(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)), _plain(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8))
    assert (out >= low - 1e-4).all() and (out <= high + 1e-4).all()


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError):
        BatchPrep(MEAN, STD, CPU, "heavy")


def test_strong_makes_about_one_image_in_twenty_grey():
    torch.manual_seed(0)
    out = BatchPrep((0, 0, 0), (1, 1, 1), CPU, "strong", size=8)(_uint8(1000, 8, 8), True)
    grey = ((out - out.mean(1, keepdim=True)).abs().amax((1, 2, 3)) < 1e-5).float().mean()
    assert 0.03 < grey < 0.07
