"""The model catalog: every entry builds, and its stages partition the backbone's parameters."""

import pytest
import torch
from torch import nn

from tlcore.config import DEFAULT_MODEL
from tlcore.models.catalog import get_spec, list_specs
from tlcore.errors import TLError
from tlcore.models.net import Net, availability, build_backbone, build_net, skeleton_backbone, stage_param_counts

NAMES = [s.name for s in list_specs()]
REQUIRED = {"efficientnet_lite0", "resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0",
            "convnext_tiny", "vit_b_16", "regnet_y_400mf", "densenet121", "vgg16"}


def test_catalog_has_the_required_models_with_lite1_first():
    assert REQUIRED <= set(NAMES)
    assert NAMES[0] == DEFAULT_MODEL == "efficientnet_lite1"
    for spec in list_specs():
        assert 4 <= len(spec.stages) <= 8, spec.name
        assert spec.params_m > 0 and 60 < spec.top1 < 90 and spec.file_mb > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_is_in_exactly_one_stage_or_the_head(name):
    spec = get_spec(name)
    net = Net(skeleton_backbone(spec), spec.feature_dim, 3)
    for pname, _ in net.backbone.named_parameters():
        hits = [i for i, st in enumerate(spec.stages) for p in st.prefixes
                if pname == p or pname.startswith(p + ".")]
        assert len(hits) == 1, f"{name}: {pname} is in stages {hits}"
    assert all(pname.startswith("head.") for pname, _ in net.named_parameters()
               if not pname.startswith("backbone."))
    counts, total = stage_param_counts(name)
    assert sum(counts) == total and all(c > 0 for c in counts)
    assert total == spec.params  # the catalog's count is the built backbone's, exactly


@pytest.mark.slow
def test_the_model_and_strategy_pages_show_one_parameter_count(digits):
    """The Model card and the Strategy page count the same network: the catalog's backbone and
    a new final layer for the 10 digit classes, shown the same way ("3.38 M")."""
    import re

    from app_fixtures import goto, studio, texts

    from pages import ui
    from tlcore.models.catalog import params_text

    spec = get_spec(DEFAULT_MODEL)
    count = spec.network_params(10)
    assert count == 4_135_680 + 1280 * 10 + 10 and params_text(count) == "4.15 M"
    at = studio("model")
    assert f"**{params_text(spec.params)}** parameters" in texts(at.markdown)  # no images yet: the backbone
    at.session_state[ui.DATASET] = digits
    goto(at, "model")
    cards = texts(at.markdown)
    assert f"**{params_text(count)}** parameters" in cards and "5.42 M" not in cards
    goto(at, "strategy")
    caption = next(c.value for c in at.caption if "parameters; the rest stay frozen" in c.value)
    shown = re.search(r"of the ([\d.,]+ ?M?) parameters", caption).group(1)
    assert shown == params_text(count)  # the same number, written the same way


@pytest.mark.parametrize("name", [n if n == DEFAULT_MODEL else pytest.param(n, marks=pytest.mark.slow) for n in NAMES])
def test_every_entry_builds_without_weights_and_gives_features(name):
    spec = get_spec(name)
    size = spec.image_size if spec.fixed_size else 64
    torch.manual_seed(0)
    net = build_net(name, num_classes=5, weights="none", image_size=size).eval()
    with torch.no_grad():
        feats = net.backbone(torch.randn(1, 3, size, size))
        logits = net(torch.randn(2, 3, size, size))
    assert feats.shape == (1, spec.feature_dim)
    assert logits.shape == (2, 5)
    assert isinstance(net.head[-1], nn.Linear)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_bundled_weights_load_and_classify_a_real_photo(name):
    """At the model's own size, and at the size it runs at on a processor (Lite1: 208 pixels)."""
    from sklearn.datasets import load_sample_images
    from torchvision.transforms.v2 import functional as F

    spec = get_spec(name)
    assert availability(spec) == "bundled"
    temple = torch.from_numpy(load_sample_images().images[0].copy()).permute(2, 0, 1)
    for size in {spec.image_size, spec.size_on("cpu")}:
        model = nn.Sequential(*build_backbone(spec, "pretrained", size)).eval()
        x = F.center_crop(F.resize(temple, size), size).float() / 255
        x = F.normalize(x, spec.mean, spec.std)[None]
        with torch.no_grad():
            top = model(x).softmax(1).topk(1).indices[0].tolist()
        assert top == [698], size  # ImageNet class 698 is "palace"


def test_unknown_model_lists_the_choices():
    with pytest.raises(TLError, match="efficientnet_lite0"):
        get_spec("resnet1000")


def test_missing_torchvision_weights_offline_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))  # undone after: TORCH_HOME rules again
    assert availability(get_spec("resnet18")) == "download"
    import tlcore.models.weights as w

    monkeypatch.setattr(w, "_fetch", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(TLError, match="resnet18"):
        build_net("resnet18", 3)
