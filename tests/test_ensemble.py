"""The "most accurate" recipe: a frozen ensemble of the bundled networks that trains, predicts,
explains and exports like one model, and that the recommender picks for small datasets."""

import json

import numpy as np
import onnxruntime
import pytest
import torch
from PIL import Image

from tlcore.use.card import model_card
from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.use.explain import gradcam
from tlcore.use.export import TOLERANCE, export_bundle
from tlcore.data.images import load_square_uint8
from tlcore.use.predict import Predictor
from tlcore.training.recommend import STILL_A_CHOICE, Recommendation, choose_recipe
from tlcore.training.timing import Estimate
from tlcore.rundir import RunDir

SMALL = {"a": 15, "b": 15}


def _rec() -> Recommendation:
    return Recommendation(0, 40, "none", 0.5, "Why.")


def test_small_frozen_data_gets_the_most_accurate_model_when_it_fits_the_wait_and_other_cases_the_fastest():
    auto = TrainConfig(data="/d", trainable_stages=0)
    fits = {"fastest": Estimate(10.0, 1), "most_accurate": Estimate(50.0, 1)}
    slow = {"fastest": Estimate(60.0, 1), "most_accurate": Estimate(300.0, 1)}  # a slow processor, or many images
    assert choose_recipe(_rec(), auto, True, SMALL, True, fits).recipe == "most_accurate"
    assert "most accurate model" in choose_recipe(_rec(), auto, True, SMALL, True, fits).reason
    on_slow = choose_recipe(_rec(), auto, True, SMALL, True, slow)
    assert on_slow.recipe == "fastest" and STILL_A_CHOICE in on_slow.reason
    assert choose_recipe(_rec(), auto.with_(recipe="most_accurate"), True, SMALL, True, slow).recipe == "most_accurate"
    assert choose_recipe(_rec(), auto, False, SMALL, True, fits).recipe == "fastest"  # stages train
    assert choose_recipe(_rec(), auto, True, {"a": 500, "b": 400}, True, fits).recipe == "fastest"
    assert choose_recipe(_rec(), auto, True, SMALL, False, fits).recipe == "fastest"  # its networks are not here
    assert choose_recipe(_rec(), auto.with_(image_size=64), True, SMALL, True, fits).recipe == "fastest"
    forced = auto.with_(recipe="fastest")
    assert choose_recipe(_rec(), forced, True, SMALL, True, fits).recipe == "fastest"
    with pytest.raises(TLError, match="0 stages"):
        choose_recipe(_rec(), auto.with_(recipe="most_accurate"), False, SMALL, True, fits)


def test_recipe_is_validated_and_configs_written_before_it_load_as_fastest():
    with pytest.raises(TLError, match="recipe"):
        TrainConfig(data="/d", recipe="best")
    old = {k: v for k, v in TrainConfig(data="/d").to_json().items() if k != "recipe"}
    assert TrainConfig.from_json(old).recipe == "fastest"
    assert TrainConfig.from_json(TrainConfig(data="/d").to_json()).recipe == "auto"


def _shapes(root, per_class=5):
    """Two classes of 48 px drawings on white (with transparency): discs and bars."""
    rng = np.random.default_rng(0)
    for name in ("disc", "bar"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            im = np.zeros((48, 48, 4), np.uint8)
            yy, xx = np.mgrid[:48, :48]
            c = rng.integers(14, 34, 2)
            mask = ((yy - c[0]) ** 2 + (xx - c[1]) ** 2 < 120) if name == "disc" else (abs(xx - c[1]) < 4)
            im[mask] = [*rng.integers(0, 200, 3), 255]
            Image.fromarray(im, "RGBA").save(root / name / f"{i}.png")
    return root


def test_most_accurate_model_trains_predicts_explains_and_exports_within_tolerance(tmp_path):
    data = _shapes(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--device", "cpu", "--recipe", "most_accurate",
                 "--image-size", "64", "--epochs", "5", "--trainable-stages", "0"]) == 0
    meta = json.loads((run / "bundle" / "model.json").read_text())
    assert [m["model"] for m in meta["ensemble"]["members"]] == ["efficientnet_lite0", "efficientnet_lite1",
                                                                 "efficientnet_lite2"]
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e.get("type") == "features" and e["engine"] == "onnxruntime" for e in events)
    files = sorted(str(p) for p in data.rglob("*.png"))
    predictor = Predictor(run / "bundle")
    rows = predictor.predict_files(files)
    assert all("top" in r for r in rows)
    assert diff_ok(export_bundle(run / "bundle", "onnx", tmp_path / "m.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    images = torch.stack([load_square_uint8(f, 64) for f in files])
    onnx_probs = session.run(["probabilities"], {"image": predictor._prep(images).numpy()})[0]
    assert np.abs(onnx_probs - predictor.probabilities(images).numpy()).max() <= TOLERANCE
    assert "EfficientNet-Lite2" in model_card(RunDir(run))
    image, heat, label = gradcam(run, files[0])
    assert heat.shape == image.shape[:2] and label in ("disc", "bar") and heat.max() > 0


def diff_ok(diff: float) -> bool:
    return 0 <= diff <= TOLERANCE


def test_each_member_pads_for_the_size_of_the_images_it_reads():
    """EfficientNet-Lite pads like TensorFlow's "same", set when it is built for an image size: every
    member is built for the run's size (208 px here), not for its own (224, 240, 260 px)."""
    from tlcore.models.catalog import get_spec
    from tlcore.models.ensemble import build_ensemble, describe
    from tlcore.models.net import build_backbone

    pads = lambda net: [repr(m.static_padding) for m in net.modules() if hasattr(m, "static_padding")]
    ensemble, differ = build_ensemble(208, "none"), []
    for tapped, member in zip(ensemble.nets, describe()["members"]):
        spec = get_spec(member["model"])
        assert pads(tapped.net) == pads(build_backbone(spec, "none", 208)[0])
        if pads(tapped.net) != pads(build_backbone(spec, "none", spec.image_size)[0]):
            differ.append(spec.name)
    assert differ == ["efficientnet_lite0", "efficientnet_lite2"]  # Lite1 pads 208 and 240 px alike
