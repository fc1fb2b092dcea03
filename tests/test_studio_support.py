"""Engine helpers behind the studio: stored datasets, samples, run listing, advice, model card, Grad-CAM."""

import io
import re
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from tlcore.data import samples, store

from tlcore.jobs import runs
from tlcore.use.advice import OVER_FITTING, advise
from tlcore.use.card import model_card
from tlcore.models.catalog import get_spec, list_specs
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.use.explain import gradcam, heatmap
from tlcore.models.net import build_net
from tlcore.record import EpochEvent, Metrics, Score, SplitMetrics
from tlcore.rundir import RunDir
from tlcore.jobs.train import create_run, execute
from wording import pattern


def _png(color, size=40) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


def test_import_zip_stores_once_and_lists_it():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(3):
            zf.writestr(f"shapes/red/{i}.png", _png((200 + i, 0, 0)))
            zf.writestr(f"shapes/blue/{i}.png", _png((0, 0, 200 + i)))
        zf.writestr("shapes/blue/notes.txt", "not an image")
    ds = store.import_zip(buf.getvalue(), "shapes.zip")
    assert ds.classes == ["blue", "red"] and len(ds.items) == 6 and len(ds.skipped) == 1
    again = store.import_zip(buf.getvalue(), "shapes.zip")
    assert again.id == ds.id
    listed = store.list_datasets()
    assert [d["name"] for d in listed] == ["shapes"] and listed[0]["images"] == 6
    assert store.open_dataset(store.dataset_folder(ds)).id == ds.id


def test_import_class_images_cleans_names_and_rejects_empty():
    ds = store.import_class_images("parts", {"bolt/nut": [("a.png", _png("red"))], "gear": [("b.png", _png("blue"))]})
    assert ds.classes == ["bolt nut", "gear"]
    with pytest.raises(TLError, match="at least one image"):
        store.import_class_images("empty", {"a": [], "b": []})


def test_digits_sample_is_offline_and_has_ten_classes():
    assert "digits" in samples.available_samples()
    ds = samples.load_sample("digits", per_class=5)
    assert len(ds.classes) == 10 and set(ds.counts().values()) == {5}
    with pytest.raises(TLError, match="not available"):
        samples.load_sample("imagenet")


@pytest.fixture(scope="module")
def finished_run(fashion_small, tmp_path_factory):
    cfg = TrainConfig(data=str(fashion_small / "train"), epochs=3, trainable_stages=0, augment="none",
                      image_size=64, device="cpu")
    run = create_run(cfg, tmp_path_factory.mktemp("runs") / "r1")
    assert execute(run.path) == "finished"
    return run


def test_history_progress_and_summary_read_the_run_directory(finished_run):
    rows = runs.history(finished_run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_accuracy", "val_precision", "val_recall"} <= set(rows[0])
    per_class = runs.class_history(finished_run)
    assert len(per_class) == 3 * 4 and {"bag", "sandal"} <= {r["class"] for r in per_class}
    assert runs.progress(finished_run)["fraction"] == pytest.approx(1.0)
    s = runs.summary(finished_run)
    assert s["state"] == "finished" and s["epochs_done"] == 3 and s["score"] == finished_run.metrics().score


def test_advice_and_model_card_describe_the_run(finished_run):
    advice = advise(finished_run)
    assert advice and all(isinstance(a, str) and a.endswith(".") for a in advice)
    card = model_card(finished_run)
    assert "# Model card" in card and "bag, sandal, t-shirt, trouser" in card
    assert "feature extraction" in card and "| bag |" in card and "Predictor" in card
    # the card's score is metrics.json's score of the kept model, as the Runs and Evaluate pages show it
    assert f"**Score: {finished_run.metrics().score.sentence()}.**" in card


def test_advice_names_over_fitting_at_the_kept_epoch(tmp_path):
    run = create_run(TrainConfig(data=str(tmp_path), trainable_stages=0, epochs=2), tmp_path / "run")
    per_class = {"a": {"precision": 1, "recall": 1, "f1": 1, "support": 20}}
    val = SplitMetrics(0.55, 0.5, 0.5, 0.5, per_class, ["a"], [[20]], 20, loss=1.5)
    train = replace(val, accuracy=0.99, loss=0.05)
    for epoch, seen in ((1, val), (2, replace(val, accuracy=0.9))):
        run.append_epoch(EpochEvent(epoch, 2, 0.1, 1.0, train, seen, 10.0, True, held_out="val"))
    score = Score("val", 0.55, 0.34, 0.74, 20, "validation split")
    run.write_metrics(Metrics(score, score, kept_epoch=1, val=val))
    advice = advise(run)
    assert any(re.match(pattern(OVER_FITTING, epoch=1, held_out=0.55), a) for a in advice), advice
    assert not any("train fewer stages" in a for a in advice)  # nothing was trained but the head


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
def test_gradcam_layer_works_for_every_catalog_model(name):
    spec = get_spec(name)
    size = 224 if spec.fixed_size else 64
    torch.manual_seed(0)
    net = build_net(name, 3, weights="none", image_size=size).eval()
    heat = heatmap(net, spec.cam_layer, torch.randn(1, 3, size, size), 1, vit=name.startswith("vit"))
    assert heat.shape == (size, size) and 0.0 <= heat.min() and heat.max() <= 1.0


def test_gradcam_of_a_trained_run_highlights_a_region(finished_run, fashion_small):
    image_file = next((fashion_small / "test" / "bag").iterdir())
    image, heat, predicted = gradcam(finished_run.path, image_file)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8 and heat.shape == (64, 64)
    assert heat.max() > heat.mean() and predicted in ("bag", "sandal", "t-shirt", "trouser")


def test_tags_diff_and_delete(finished_run, fashion_small, tmp_path):
    finished_run.set_tags([" best ", "demo", "best", ""])
    assert finished_run.tags() == ["best", "demo"] and runs.summary(finished_run)["tags"] == ["best", "demo"]
    cfg = TrainConfig(data=str(fashion_small / "train"), epochs=2, trainable_stages=0, augment="none",
                      image_size=64, device="cpu")
    other = create_run(cfg, tmp_path / "other")
    assert execute(other.path) == "finished"
    d = runs.diff(finished_run, other)
    assert {"setting": "epochs", "a": 3, "b": 2} in d["settings"]
    assert all(row["setting"] != "model" for row in d["settings"])
    assert [m["metric"] for m in d["metrics"]][:3] == ["score", "cv accuracy", "cv precision_macro"]
    assert d["metrics"][0]["a"] == finished_run.metrics().score
    active = create_run(cfg, tmp_path / "active")
    with pytest.raises(TLError, match="still training"):
        runs.delete_run(active)
    runs.delete_run(other)
    assert not other.path.exists()


@pytest.mark.slow
def test_a_sweep_started_from_the_studio_runs_in_the_background(fashion_small):
    import time

    from tlcore.jobs.studies import start_sweep
    from tlcore.studio import list_sweeps

    cfg = TrainConfig(data=str(fashion_small / "train"), epochs=2, augment="none", image_size=64, device="cpu")
    folder = start_sweep(cfg, [0], from_scratch=False)
    deadline = time.time() + 120
    while time.time() < deadline and not list_sweeps()[0]["done"]:
        time.sleep(0.5)
    sweep = list_sweeps()[0]
    assert sweep["path"] == str(folder) and sweep["done"], (folder / "sweep.log").read_text()
    assert sweep["rows"][0]["state"] == "finished" and sweep["rows"][0]["depth"] == 0
