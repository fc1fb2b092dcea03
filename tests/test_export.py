"""Tests for tlcore.use.export: ONNX and .pt2 exports run independently and match PyTorch; the ONNX
file also gives calibrated probabilities and carries its metadata."""

import copy
import random

import numpy as np
import onnxruntime
import pytest
import torch
from efficientnet_lite_pytorch import EfficientNet
from torchvision.models import mobilenet_v3_small, resnet18

from tlcore.errors import TLError
from tlcore.use.export import BAD_TEMPERATURE, NOT_EXPORTED, TOLERANCE, UNFAITHFUL, export_onnx, export_pt2
from wording import line, pattern

SIZE = 64


BUILDERS = {
    "mobilenet_v3_small": lambda: mobilenet_v3_small(weights=None, num_classes=3),
    "resnet18": lambda: resnet18(weights=None, num_classes=3),
    "efficientnet_lite0": lambda: EfficientNet.from_name("efficientnet-lite0", num_classes=3),
}


@pytest.fixture(scope="module", params=list(BUILDERS))
def model(request):
    """A small real classifier left in train mode, as it would be right after training."""
    torch.manual_seed(0)
    m = BUILDERS[request.param]()
    # Random init gives near-zero logits; scale the head so differences would be visible.
    with torch.no_grad():
        for p in list(m.parameters())[-2:]:
            p.mul_(50)
    return m.train()


def _reference(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return copy.deepcopy(model).eval()(x).numpy()


def _batch(n: int = 3) -> torch.Tensor:
    return torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(42))


def test_onnx_export_matches_pytorch(model, tmp_path):
    out = tmp_path / "model.onnx"
    diff = export_onnx(model, SIZE, out)
    assert diff < 1e-4
    assert model.training, "export must leave the caller's model in train mode"

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    x = _batch(3)  # not the batch size the exporter used: the batch axis is dynamic
    logits, probabilities = session.run(None, {"image": x.numpy()})
    assert logits.shape == probabilities.shape == (3, 3)
    assert np.abs(logits - _reference(model, x)).max() < 1e-4
    assert np.abs(probabilities - torch.from_numpy(logits).softmax(1).numpy()).max() < 1e-6
    assert list(tmp_path.iterdir()) == [out], "no temporary files left behind"


def test_onnx_probabilities_use_the_temperature_and_metadata_is_stored(tmp_path):
    torch.manual_seed(0)
    model = resnet18(weights=None, num_classes=3)
    with torch.no_grad():
        model.fc.weight.mul_(5)  # logits a few units apart, where the temperature shows most
    out = tmp_path / "model.onnx"
    export_onnx(model, SIZE, out, temperature=3.0, metadata={"classes": '["a", "b", "c"]', "image_size": "64"})
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(None, {"image": _batch(2).numpy()})
    assert np.abs(probabilities - torch.from_numpy(logits / 3.0).softmax(1).numpy()).max() < 1e-6
    assert np.abs(probabilities - torch.from_numpy(logits).softmax(1).numpy()).max() > 1e-2
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["classes"] == '["a", "b", "c"]' and meta["image_size"] == "64"


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_onnx_refuses_a_temperature_that_is_not_positive(temperature, tmp_path):
    with pytest.raises(TLError, match=line(BAD_TEMPERATURE, temperature=temperature)):
        export_onnx(resnet18(weights=None, num_classes=3), SIZE, tmp_path / "m.onnx", temperature=temperature)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_pt2_export_matches_pytorch(model, tmp_path):
    out = tmp_path / "model.pt2"
    diff = export_pt2(model, SIZE, out)
    assert diff < 1e-4
    assert model.training

    loaded = torch.export.load(str(out)).module()
    for n in (3, 1):
        x = _batch(n)
        with torch.no_grad():
            logits = loaded(x).numpy()
        assert logits.shape == (n, 3)
        assert np.abs(logits - _reference(model, x)).max() < 1e-4
    assert list(tmp_path.iterdir()) == [out]


class _FrozenRandomness(torch.nn.Module):
    """Uses Python randomness, which tracing freezes into a constant: the export is wrong."""

    def __init__(self, rng: random.Random):
        super().__init__()
        self.rng = rng
        self.head = torch.nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean((2, 3))) + self.rng.random()


@pytest.mark.parametrize("export", [export_onnx, export_pt2], ids=["onnx", "pt2"])
def test_unfaithful_export_is_refused_and_not_saved(export, tmp_path):
    out = tmp_path / "model.bin"
    out.write_bytes(b"an earlier good export")
    with pytest.raises(TLError, match=line(UNFAITHFUL, allowed=TOLERANCE)):
        export(_FrozenRandomness(random.Random(0)), SIZE, out)
    assert out.read_bytes() == b"an earlier good export"
    assert list(tmp_path.iterdir()) == [out]


def test_unexportable_model_is_a_tlerror(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            # Python branching on image values: torch.export cannot record it.
            return x.mean((1, 2)) if x.sum() > 0 else x.mean((1, 3))

    with pytest.raises(TLError, match="^" + pattern(NOT_EXPORTED, fmt="PyTorch 2 (.pt2)")):
        export_pt2(DataDependent(), SIZE, tmp_path / "m.pt2")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.gpu
def test_export_leaves_a_gpu_model_on_the_gpu(tmp_path):
    m = mobilenet_v3_small(weights=None, num_classes=3).cuda().train()
    assert export_onnx(m, SIZE, tmp_path / "m.onnx") < 1e-4
    assert export_pt2(m, SIZE, tmp_path / "m.pt2") < 1e-4
    assert next(m.parameters()).is_cuda and m.training


@pytest.mark.slow
def test_predicting_many_images_from_the_cli_keeps_memory_bounded(tmp_path):
    """240 images through `python -m tlcore predict` at the default model's full 224 px, peak memory
    measured in the child (one batch of them all took ~17 MB an image: 4 GB)."""
    import subprocess
    import sys

    from PIL import Image

    from tlcore.models.bundle import save_bundle
    from tlcore.models.net import build_net

    save_bundle(tmp_path / "run" / "bundle", build_net("efficientnet_lite0", 3, weights="none"), ["a", "b", "c"],
                "efficientnet_lite0", 224)
    rng = np.random.default_rng(0)
    for i in range(240):
        Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    images = sorted(str(p) for p in tmp_path.glob("*.jpg"))
    code = ("import resource, sys, runpy; sys.argv = ['tlcore'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('tlcore', run_name='__main__')\n"
            "finally:\n    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, "predict", "--run", str(tmp_path / "run"), *images,
                           "--csv", str(tmp_path / "out.csv")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    peak_kb = int(proc.stderr.strip().splitlines()[-1].split()[1])
    print(f"\npeak memory predicting 240 images at 224 px: {peak_kb / 1024:.0f} MB")
    assert peak_kb < 2.5 * 1024 * 1024
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 241
