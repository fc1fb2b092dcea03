"""Strategy sweep: every strategy trained on the same split, and transfer beats training from scratch."""

import json
import sys

import pytest

from datasets import FASHION_CLASSES, FASHION_DIR, fashion_mnist, pick_per_class, write_class_folders
from tlcore.cli import main
from tlcore.errors import TLError
from tlcore.jobs.sweep import parse_depths

pytestmark = pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")


def test_depths_parse_half_all_and_reject_nonsense():
    assert parse_depths("0,1,half,all,all", 7) == [0, 1, 3, 7]
    with pytest.raises(TLError, match="not a depth"):
        parse_depths("0,9", 7)


@pytest.mark.slow
def test_sweep_writes_every_strategy_and_pretrained_beats_from_scratch(tmp_path):
    x, y = fashion_mnist("train")
    data = write_class_folders(tmp_path / "data", x, y, FASHION_CLASSES, pick_per_class(y, 20, list(range(5))))
    out = tmp_path / "sweep"
    assert main(["sweep", "--data", str(data), "--depths", "0,all", "--from-scratch", "--epochs", "8",
                 "--image-size", "96", "--device", "cpu", "--out", str(out)]) == 0
    rows = json.loads((out / "summary.json").read_text())
    print(json.dumps(rows, indent=1), file=sys.stderr)
    assert [(r["depth"], r["from_scratch"]) for r in rows] == [(0, False), (7, False), (7, True)]
    for r in rows:
        assert r["state"] == "finished" and 0 <= r["accuracy"] <= 1 and r["seconds"] > 0
        assert set(r) >= {"strategy", "depth", "from_scratch", "accuracy", "f1_macro", "seconds", "run"}
    splits = {json.dumps(json.loads((tmp_path / "sweep" / name / "dataset.json").read_text())["items"], sort_keys=True)
              for name in ("depth-0", "depth-7", "scratch")}
    assert len(splits) == 1  # one shared validation split
    scratch = rows[2]["accuracy"]
    assert rows[0]["accuracy"] > scratch and rows[1]["accuracy"] > scratch


@pytest.mark.slow
def test_learning_curve_keeps_validation_fixed_and_grows_the_training_images(tmp_path):
    x, y = fashion_mnist("train")
    shirts = [0, 2, 4, 6]  # t-shirt, pullover, coat, shirt: easily confused, so more images help
    data = write_class_folders(tmp_path / "data", x, y, FASHION_CLASSES, pick_per_class(y, 40, shirts))
    out = tmp_path / "curve"
    assert main(["curve", "--data", str(data), "--out", str(out), "--epochs", "20", "--image-size", "96",
                 "--device", "cpu"]) == 0
    rows = json.loads((out / "curve.json").read_text())
    assert [r["fraction"] for r in rows] == [0.25, 0.5, 0.75, 1.0]
    assert [r["images_per_class"]["coat"] for r in rows] == [8, 16, 24, 32]
    assert all(set(r["recall"]) == {"coat", "pullover", "shirt", "t-shirt"} for r in rows)
    vals = {json.dumps([i for i in json.loads((out / f"{p}pct" / "run" / "dataset.json").read_text())["items"]
                        if i["split"] == "val"], sort_keys=True) for p in (25, 50, 75, 100)}
    assert len(vals) == 1  # every point is scored on the same validation images
    assert rows[-1]["accuracy"] > rows[0]["accuracy"]
