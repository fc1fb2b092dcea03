"""The model card reproduces the model: its script, run with nothing but onnxruntime, numpy and
Pillow, gives the answers of `python -m tlcore predict`; the ONNX export is calibrated."""

import csv
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from app_fixtures import studio, texts
from isolation import isolated
from PIL import Image

from pages import ui
from tlcore.data import portable
from tlcore.training.augment import BatchPrep
from tlcore.models.bundle import load_bundle
from tlcore.cli import main
from tlcore.use.export import export_onnx
from tlcore.use.predict import Predictor

ROOT = Path(__file__).resolve().parent.parent
SIZE = 64
pytestmark = pytest.mark.filterwarnings("ignore:Constant folding")


def tlcore(*args) -> subprocess.CompletedProcess:
    """``python -m tlcore ARGS`` in a fresh process, as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "tlcore", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def run_dir(fashion_small, tmp_path_factory) -> Path:
    """A tiny real run, trained through the command line once for this module."""
    out = tmp_path_factory.mktemp("card") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("card-workspace")))
        assert main(["train", "--data", str(fashion_small / "train"), "--out", str(out), "--trainable-stages",
                     "0", "--epochs", "2", "--augment", "none", "--image-size", str(SIZE), "--device", "cpu"]) == 0
    return out


def _garments(fashion_small) -> list[np.ndarray]:
    """The 40 Fashion-MNIST test images (28x28 grey, garment bright on black), in a fixed order."""
    return [np.asarray(Image.open(p)) for p in sorted((fashion_small / "test").glob("*/*.png"))]


def _colour(grey: np.ndarray, rng: np.random.Generator, size: tuple[int, int]) -> tuple[Image.Image, np.ndarray]:
    """The garment tinted in a random colour over a noisy background, at ``size``; and its mask 0..255."""
    mask = Image.fromarray(grey).resize(size, Image.Resampling.BICUBIC)
    tint = rng.integers(60, 256, 3)
    fg = np.asarray(mask, dtype=np.float32)[..., None] / 255 * tint
    noise = rng.integers(0, 256, (size[1], size[0], 3))
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255
    rgb = (alpha * fg + (1 - alpha) * noise).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb), np.asarray(mask)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _make(kind: str, grey: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """One test image of ``kind`` from a garment, with the save options it needs."""
    size = (int(rng.integers(50, 160)), int(rng.integers(50, 160)))
    img, mask = _colour(grey, rng, size)
    if kind == "rgba":  # the noise under the transparent part must not reach the model
        return Image.fromarray(np.dstack([np.asarray(img), mask])), {}
    if kind == "palette":
        return img.quantize(64), {}
    if kind == "palette-transparent":
        pal = img.quantize(63)
        index = np.asarray(pal).copy()
        index[np.asarray(mask) < 40] = 63  # the background becomes a transparent palette entry
        out = Image.fromarray(index.astype(np.uint8), "P")
        out.putpalette((pal.getpalette() + [0] * 189)[:189] + [255, 0, 255])
        return out, {"transparency": 63}
    if kind == "grey":
        return Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR), {}
    if kind == "grey16":
        wide = np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR), dtype=np.uint16)
        return Image.fromarray(wide * 257 + rng.integers(0, 200, wide.shape, dtype=np.uint16)), {}
    if kind == "jpeg":
        return img, {"quality": 90}
    if kind == "jpeg-large":  # big enough that a reduced (draft) decoding would change it
        return _colour(grey, rng, (640, 480))[0], {"quality": 92}
    if kind == "jpeg-exif":
        return img, {"quality": 90, "exif": _exif(int(rng.choice([3, 6, 8])))}
    raise ValueError(kind)


KINDS = ["rgba", "palette", "palette-transparent", "grey", "grey16", "jpeg", "jpeg-large", "jpeg-exif"]


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    """The run's card (card.md) and ONNX file (model.onnx), made by the command line."""
    folder = tmp_path_factory.mktemp("exported")
    tlcore("export", "--run", run_dir, "--format", "card", "--out", folder / "card.md")
    tlcore("export", "--run", run_dir, "--format", "onnx", "--out", folder / "model.onnx")
    return folder


@pytest.fixture(scope="module")
def images(fashion_small, tmp_path_factory) -> dict[str, str]:
    """13 images of each kind the issue names (104 in all): path -> kind."""
    folder, rng = tmp_path_factory.mktemp("images"), np.random.default_rng(0)
    garments, out = _garments(fashion_small), {}
    for kind in KINDS:
        for i in range(13):
            img, options = _make(kind, garments[(7 * i + len(out)) % len(garments)], rng)
            path = folder / f"{kind}-{i}.{'jpg' if kind.startswith('jpeg') else 'png'}"
            img.save(path, **options)
            out[str(path)] = kind
    return out


def python_blocks(card: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", card, re.S | re.M)


@pytest.mark.slow
def test_card_snippet_agrees_with_the_engine(run_dir, exported, images, tmp_path):
    (block,) = python_blocks((exported / "card.md").read_text())
    snippet = tmp_path / "snippet.py"
    snippet.write_text(block)
    assert {Image.open(p).mode for p in images} >= {"RGBA", "P", "L", "I;16", "RGB"}
    assert sum("transparency" in Image.open(p).info for p in images) == 13

    paths = list(images)
    done = isolated(snippet, exported / "model.onnx", *paths, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = {row[0]: (row[1], float(row[2])) for row in csv.reader(io.StringIO(done.stdout))}
    tlcore("predict", "--run", run_dir, *paths, "--csv", tmp_path / "engine.csv")
    engine = {r["file"]: (r["predicted"], float(r["confidence"]))
              for r in csv.DictReader((tmp_path / "engine.csv").open())}
    assert set(ours) == set(engine) == set(paths)
    same = sum(ours[p][0] == engine[p][0] for p in paths) / len(paths)
    worst = max(abs(ours[p][1] - engine[p][1]) for p in paths)
    temperature = json.loads((run_dir / "bundle" / "model.json").read_text()).get("temperature", 1.0)
    print(f"\n{len(paths)} images, temperature {temperature:.3g}: same top class {same:.1%}, "
          f"largest probability difference {worst:.2e}")
    assert same >= 0.99 and worst <= 0.01
    assert len({c for c, _ in engine.values()}) > 1, "the images must not all look alike to the model"


def test_isolated_python_really_lacks_the_project(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy, PIL, onnxruntime\nimport torch\n")
    done = isolated(probe, cwd=tmp_path)
    assert done.returncode != 0 and "ModuleNotFoundError" not in done.stderr
    assert "torch is not available here" in done.stderr


def test_snippet_reports_unreadable_files_and_goes_on(exported, fashion_small, tmp_path):
    good = min((fashion_small / "test" / "bag").iterdir())
    (tmp_path / "broken.png").write_bytes(b"not an image")
    done = isolated(Path(portable.__file__), exported / "model.onnx", tmp_path / "broken.png", good, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"{tmp_path / 'broken.png'}: could not be read")
    (row,) = list(csv.reader(io.StringIO(done.stdout)))
    assert row[0] == str(good) and re.fullmatch(r"\d\.\d{6}", row[2])


def test_card_states_the_preprocessing_and_holds_the_portable_module(run_dir, exported):
    card = (exported / "card.md").read_text()
    meta = json.loads((run_dir / "bundle" / "model.json").read_text())
    temperature = meta.get("temperature", 1.0)
    assert python_blocks(card) == [inspect.getsource(portable)]
    steps = card.split("## Preprocessing")[1].split("## Use it without this project")[0]
    for fact in ("painted on white", "divided by 256", "Image.Resampling.BILINEAR", f"int({SIZE} x longer",
                 f"(width - {SIZE}) // 2", f"(height - {SIZE}) // 2", "divided by 255", json.dumps(meta["mean"]),
                 json.dumps(meta["std"]), "R, G, B", "NCHW", f"softmax(logits / {float(temperature)!r})",
                 "decoded whole",
                 "exif_transpose"):
        assert fact in steps, fact
    assert "--format onnx --out model.onnx" in card


def _calibrated_copy(run_dir: Path, tmp_path: Path, temperature: float) -> Path:
    """A copy of the run whose model.json says ``temperature``."""
    copy = tmp_path / f"run-t{temperature:g}"
    shutil.copytree(run_dir, copy)
    meta_path = copy / "bundle" / "model.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "temperature": temperature}))
    return copy


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.slow
def test_onnx_outputs_calibrated_probabilities_and_describes_itself(run_dir, tmp_path):
    run = _calibrated_copy(run_dir, tmp_path, 2.0)
    tlcore("export", "--run", run, "--format", "onnx", "--out", tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    x = np.random.default_rng(1).standard_normal((5, 3, SIZE, SIZE), dtype=np.float32)
    logits, probabilities = session.run(None, {"image": x})
    assert np.abs(probabilities - softmax(logits / 2.0)).max() < 1e-5
    assert np.abs(probabilities - softmax(logits)).max() > 1e-3, "the temperature must change the answer"
    meta = session.get_modelmeta().custom_metadata_map
    bundle = json.loads((run / "bundle" / "model.json").read_text())
    assert json.loads(meta["classes"]) == bundle["classes"] and int(meta["image_size"]) == SIZE
    assert json.loads(meta["mean"]) == bundle["mean"] and json.loads(meta["std"]) == bundle["std"]


@pytest.mark.slow
def test_predictor_applies_the_temperature(run_dir, fashion_small, tmp_path):
    files = sorted((fashion_small / "test" / "sandal").iterdir())[:4]
    plain = Predictor.from_run(_calibrated_copy(run_dir, tmp_path, 1.0)).predict_files(files)
    warm = Predictor.from_run(_calibrated_copy(run_dir, tmp_path, 2.0)).predict_files(files)
    p1 = np.array([list(r["probabilities"].values()) for r in plain])
    p2 = np.array([list(r["probabilities"].values()) for r in warm])
    expected = np.sqrt(p1) / np.sqrt(p1).sum(1, keepdims=True)  # softmax(z / 2) from softmax(z)
    assert np.abs(p2 - expected).max() < 1e-5 and np.abs(p2 - p1).max() > 1e-3
    assert [r["top"][0][0] for r in warm] == [r["top"][0][0] for r in plain]


def test_portable_normalisation_is_the_engine_s(fashion_small):
    squares = [np.asarray(portable.square(Image.open(p).convert("RGB"), SIZE))
               for p in sorted((fashion_small / "test" / "bag").iterdir())[:3]]
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    engine = BatchPrep(mean, std, torch.device("cpu"))(torch.from_numpy(np.stack(squares)).permute(0, 3, 1, 2))
    assert np.array_equal(portable.to_input(squares, mean, std), engine.numpy())


@pytest.mark.slow
def test_use_page_remakes_an_onnx_file_that_lacks_probabilities(workspace_run):
    old = Path(workspace_run) / "model.onnx"
    net, meta = load_bundle(Path(workspace_run) / "bundle")
    export_onnx(net, meta["image_size"], old)  # as before: no class names in the file
    at = studio("use", **{ui.RUN: workspace_run})
    assert "Download model.onnx" not in [b.label for b in at.get("download_button")]
    assert "does not match this model any more" in texts(at.caption)
    assert inspect.getsource(portable) in texts(at.markdown), "the page shows the card with its script"
    next(b for b in at.button if b.label == "Make the ONNX file").click()
    at.run()
    assert not at.exception and not at.error
    assert "Download model.onnx" in [b.label for b in at.get("download_button")]
    session = onnxruntime.InferenceSession(str(old), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    assert json.loads(session.get_modelmeta().custom_metadata_map["classes"]) == meta["classes"]
