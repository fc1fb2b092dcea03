"""The fast paths give the same answers as the plain ones (speed is measured in bench/, not here)."""

import pytest
import torch
from torch import nn

from tlcore.training.augment import BatchPrep
from tlcore.models.catalog import get_spec
from tlcore.training import embed
from tlcore.training.embed import Embedder, kept_graph
from tlcore.data.images import decode_many
from tlcore.training.loop import identity_prep, predict_logits, train_one_epoch
from tlcore.training.optimizer import AdamW, WarmupCosine
from tlcore.models.net import build_net
from tlcore.models.soup import EachHeadLoss, HeadSoup

CPU = torch.device("cpu")


def _images(fashion_small, size=64):
    files = sorted((fashion_small / "train").rglob("*.png"))
    images, _ = decode_many([str(f) for f in files], size)
    labels = torch.tensor([sorted({f.parent.name for f in files}).index(f.parent.name) for f in files])
    return images, labels


def test_onnx_runtime_features_match_pytorch(fashion_small):
    spec = get_spec("efficientnet_lite0")
    images, _ = _images(fashion_small)
    net = build_net(spec.name, 4, image_size=64).eval()
    prep = BatchPrep(spec.mean, spec.std, CPU)
    embedder = Embedder(net.backbone, prep, CPU, images)
    assert embedder.engine == "onnxruntime"
    expected = predict_logits(net.backbone, images, prep, 16, CPU)
    assert (embedder(images) - expected).abs().max() < 1e-4


@pytest.mark.slow
def test_the_workspace_keeps_only_the_most_recently_used_graphs(fashion_small, monkeypatch):
    import os

    spec = get_spec("efficientnet_lite0")
    images, _ = _images(fashion_small)
    net = build_net(spec.name, 4, image_size=64).eval()
    prep = BatchPrep(spec.mean, spec.std, CPU)
    earlier = [kept_graph(("fastest", f"model{i}", 224)) for i in range(embed.KEPT_GRAPHS + 1)]
    for age, path in enumerate(reversed(earlier)):  # model0 used last, then model1, ...
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"kept earlier")
        os.utime(path, (1e9 + age, 1e9 + age))
    monkeypatch.setattr(embed, "_RUNNERS", {})
    key = ("fastest", spec.name, 64)
    first = Embedder(net.backbone, prep, CPU, images, key=key)(images)
    left = sorted(p.name for p in kept_graph(key).parent.glob("*.onnx"))
    assert left == sorted([kept_graph(key).name] + [p.name for p in earlier[:embed.KEPT_GRAPHS - 1]])

    os.utime(kept_graph(key), (1e9, 1e9))  # a later process reuses it: it becomes the most recent
    monkeypatch.setattr(embed, "_RUNNERS", {})
    again = Embedder(net.backbone, prep, CPU, images, key=key)
    assert torch.equal(again(images), first) and kept_graph(key).stat().st_mtime > 1e9 + 100


@pytest.mark.slow
def test_a_pretrained_backbones_onnx_model_is_kept_for_later_runs_and_replaced_when_it_is_not_that_backbones(
        fashion_small, monkeypatch):
    spec = get_spec("efficientnet_lite0")
    images, _ = _images(fashion_small)
    net = build_net(spec.name, 4, image_size=64).eval()
    prep = BatchPrep(spec.mean, spec.std, CPU)
    key = ("fastest", spec.name, 64)
    older = kept_graph(key).with_name(kept_graph(key).name.replace(torch.__version__, "2.0.0"))
    other_size = kept_graph(("fastest", spec.name, 96))
    for path in (older, other_size):  # an earlier PyTorch's graph of this backbone; another size's
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"kept earlier")
    monkeypatch.setattr(embed, "_RUNNERS", {})
    first = Embedder(net.backbone, prep, CPU, images, key=key)(images)
    kept = kept_graph(key)
    assert kept.is_file() and not older.exists() and other_size.is_file()

    monkeypatch.setattr(embed, "_RUNNERS", {})  # a later process: only the kept file remains
    exported = []
    real_export = embed._export
    monkeypatch.setattr(embed, "_export", lambda *a: exported.append(1) or real_export(*a))
    again = Embedder(net.backbone, prep, CPU, images, key=key)
    assert again.engine == "onnxruntime" and not exported
    assert torch.equal(again(images), first)

    other = build_net(spec.name, 4, weights="none", image_size=64).eval()  # other weights, same key
    monkeypatch.setattr(embed, "_RUNNERS", {})
    replaced = Embedder(other.backbone, prep, CPU, images, key=key)
    assert exported == [1] and replaced.engine == "onnxruntime"
    assert (replaced(images) - predict_logits(other.backbone, images, prep, 16, CPU)).abs().max() < 1e-4

    kept.write_bytes(b"not an onnx model")  # damaged on disk
    monkeypatch.setattr(embed, "_RUNNERS", {})
    assert torch.equal(Embedder(net.backbone, prep, CPU, images, key=key)(images), first)
    assert exported == [1, 1]


@pytest.mark.slow
def test_head_training_on_cached_features_equals_training_through_the_frozen_backbone(fashion_small):
    spec = get_spec("efficientnet_lite0")
    images, labels = _images(fashion_small)
    net = build_net(spec.name, 4, image_size=64).eval().requires_grad_(False)
    prep = BatchPrep(spec.mean, spec.std, CPU)

    def train(model, inputs, prepare, soup, set_mode):
        opt = AdamW(soup.param_groups(3e-3, 1e-4))
        sched = WarmupCosine(opt, 3, 15)
        loss = EachHeadLoss(nn.CrossEntropyLoss(label_smoothing=0.1))
        gen = torch.Generator().manual_seed(0)
        for _ in range(5):
            train_one_epoch(model, inputs, labels, prepare, loss, opt, sched, 16, gen, CPU, set_mode=set_mode)
        return predict_logits(model, inputs, prepare, 16, CPU)

    torch.manual_seed(0)
    soup_fast = HeadSoup(net.head)
    soup_plain = HeadSoup(net.head)
    soup_plain.load_state_dict(soup_fast.state_dict())
    feats = Embedder(net.backbone, prep, CPU, images)(images)
    fast = train(soup_fast, feats, identity_prep(CPU), soup_fast, soup_fast.train)
    plain_model = nn.Sequential(net.backbone, soup_plain)
    plain = train(plain_model, images, prep, soup_plain, lambda: (plain_model.train(), net.backbone.eval()))
    assert (fast - plain).abs().max() < 1e-3
    assert torch.equal(fast.argmax(1), plain.argmax(1))


def test_a_soup_collapses_into_one_head_with_the_same_outputs():
    net = build_net("efficientnet_lite0", 3, weights="none", image_size=64)
    soup = HeadSoup(net.head, k=4)
    with torch.no_grad():
        soup.weight.normal_()
    x = torch.randn(6, 1280)
    soup.train()
    mean_of_heads = soup(x).mean(2)
    soup.collapse_into(net.head)
    net.head.eval()
    assert torch.allclose(net.head(x), mean_of_heads, rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_features_of_augmented_views_are_the_backbone_on_augmented_images(fashion_small):
    spec = get_spec("efficientnet_lite0")
    images, _ = _images(fashion_small)
    net = build_net(spec.name, 4, image_size=64).eval()
    embedder = Embedder(net.backbone, BatchPrep(spec.mean, spec.std, CPU), CPU, images, batch_size=16)
    augment = BatchPrep(spec.mean, spec.std, CPU, "strong", 64)
    torch.manual_seed(3)
    views = embedder(images, augment=augment)
    torch.manual_seed(3)
    expected = predict_logits(net.backbone, images, lambda x, train=False: augment(x, True), 16, CPU)
    torch.manual_seed(3)
    augmented = torch.cat([augment.augmented_pixels(images[i:i + 16]) for i in range(0, len(images), 16)])
    exact = predict_logits(net.backbone, augmented, BatchPrep(spec.mean, spec.std, CPU), 16, CPU)
    assert (views - exact).abs().max() < 1e-4
    changed = (views - embedder(images)).abs().mean()
    assert changed > 0.01  # the images were changed
    assert (views - expected).abs().mean() < 0.1 * changed  # rounding to 8 bits: far below the augmentation
