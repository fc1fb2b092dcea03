"""Hostile files among what the studio ships and trusts: kept ONNX graphs, exports kept in a run
folder, and a bundle's calibration numbers. A changed file is never used or shipped: it is made
again from the weights, or refused in one plain line; nothing saved is changed by reading it."""

import base64
import hashlib
import io
import json
import logging
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from torch import nn

from tlcore.cli import main
from tlcore.data.images import load_square_uint8
from tlcore.models.bundle import DAMAGED_META, META, save_bundle
from tlcore.models.net import build_net
from tlcore.record import NOT_A_SHARE, NotSureRule
from tlcore.rundir import RunDir
from tlcore.training import embed
from tlcore.training.augment import BatchPrep
from tlcore.training.embed import Embedder, kept_graph
from tlcore.errors import TLError
from tlcore.use.export import current_export, export_to_run
from tlcore.use.notsure import ANSWERS_UNDER, rule_of, rule_sentence
from tlcore.use.predict import BAD_TEMPERATURE, NOT_NUMBERS, Predictor
from tlcore.use.webdemo import write_web_demo

CPU = torch.device("cpu")
SIZE = 32  # the bundle's image size: the smallest that keeps exports quick
CLASSES = ["cat", "dog", "fox"]


def fingerprint(folder: Path) -> dict:
    """Every file under ``folder`` with its content hash: equal before and after means untouched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def batch2_only(graph: bytes, output: str) -> bytes:
    """The same ONNX model plus 0.5 on every output, except when the batch holds exactly 2 inputs:
    valid, and right on the 2-image check that used to be the only one."""
    model = onnx.load_from_string(graph)
    g = model.graph
    for node in g.node:
        node.output[:] = [f"{output}_right" if o == output else o for o in node.output]
    g.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "first"),
                          numpy_helper.from_array(np.array([2], np.int64), "two"),
                          numpy_helper.from_array(np.array([0.5], np.float32), "half")])
    g.node.extend([helper.make_node("Shape", [g.input[0].name], ["shape"]),
                   helper.make_node("Gather", ["shape", "first"], ["batch"], axis=0),
                   helper.make_node("Equal", ["batch", "two"], ["is_two"]),
                   helper.make_node("Not", ["is_two"], ["not_two"]),
                   helper.make_node("Cast", ["not_two"], ["off"], to=TensorProto.FLOAT),
                   helper.make_node("Mul", ["off", "half"], ["shift"]),
                   helper.make_node("Add", [f"{output}_right", "shift"], [output])])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def nudged(graph: bytes, rows: int) -> bytes:
    """The same ONNX model, metadata and all, with noise added to the weights and bias of its last
    layer of ``rows`` outputs."""
    model = onnx.load_from_string(graph)
    rng = np.random.default_rng(0)
    for weight in [i for i in model.graph.initializer if i.dims and i.dims[0] == rows][-2:]:
        array = numpy_helper.to_array(weight)
        weight.CopyFrom(numpy_helper.from_array(array + rng.normal(0, 0.2, array.shape).astype(np.float32),
                                                weight.name))
    return model.SerializeToString()


# --- kept ONNX graphs -----------------------------------------------------------------------

def tiny_backbone() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def images(n: int = 5) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def pytorch_features(backbone: nn.Module, prep: BatchPrep, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return backbone(prep(x))


WRONG_GRAPHS = {"right only for 2 images": lambda g: batch2_only(g, "y"), "one weight changed": lambda g: nudged(g, 8)}


@pytest.mark.parametrize("forged", [False, True], ids=["record left", "record forged too"])
@pytest.mark.parametrize("wrong", WRONG_GRAPHS)
def test_a_kept_graph_swapped_for_a_subtly_wrong_one_is_rebuilt(wrong, forged, monkeypatch, caplog):
    backbone, prep, x, key = tiny_backbone(), BatchPrep([0.5] * 3, [0.25] * 3, CPU), images(), ("fastest", "tiny", 16)
    monkeypatch.setattr(embed, "_RUNNERS", {})
    Embedder(backbone, prep, CPU, x, key=key)
    graph, record = kept_graph(key), kept_graph(key).with_name(kept_graph(key).name + ".sha256")
    assert record.read_text() == hashlib.sha256(graph.read_bytes()).hexdigest()
    other = kept_graph(("fastest", "other", 16))  # another backbone's kept graph: left alone
    other.write_bytes(b"another backbone's graph")
    before = fingerprint(other.parent)

    bad = WRONG_GRAPHS[wrong](graph.read_bytes())
    session = ort.InferenceSession(bad, providers=["CPUExecutionProvider"])
    wrong_at = [n for n in (1, 2, 3) if np.abs(session.run(None, {"x": x[:n].numpy()})[0]
                                               - pytorch_features(backbone, prep, x[:n]).numpy()).max() > embed.TOLERANCE]
    assert wrong_at == ([1, 3] if wrong.startswith("right only") else [1, 2, 3])
    graph.write_bytes(bad)
    if forged:  # whoever swapped it wrote its hash too: the check against PyTorch still catches it
        record.write_text(hashlib.sha256(bad).hexdigest())

    monkeypatch.setattr(embed, "_RUNNERS", {})  # a later process
    with caplog.at_level(logging.WARNING, logger="tlcore.training.embed"):
        again = Embedder(backbone, prep, CPU, x, key=key)
    reason = "ONNX Runtime differs from PyTorch by" if forged else "its contents are not the ones recorded when it was made"
    [said] = [r.getMessage() for r in caplog.records]
    assert said.startswith(f"Not reusing the kept ONNX model {graph.name} ({reason}")
    assert said.endswith("); exporting it again")
    assert again.engine == "onnxruntime"
    assert (again(x) - pytorch_features(backbone, prep, x)).abs().max() <= embed.TOLERANCE
    assert graph.read_bytes() != bad and record.read_text() == hashlib.sha256(graph.read_bytes()).hexdigest()
    assert {k: v for k, v in fingerprint(other.parent).items() if "tiny" not in k} == {
        k: v for k, v in before.items() if "tiny" not in k}


def test_a_new_graph_right_only_for_2_images_is_neither_used_nor_kept(monkeypatch, caplog):
    backbone, prep, x, key = tiny_backbone(), BatchPrep([0.5] * 3, [0.25] * 3, CPU), images(), ("fastest", "tiny", 16)
    real = embed._export
    monkeypatch.setattr(embed, "_export", lambda *a: batch2_only(real(*a), "y"))
    monkeypatch.setattr(embed, "_RUNNERS", {})
    with caplog.at_level(logging.WARNING, logger="tlcore.training.embed"):
        embedder = Embedder(backbone, prep, CPU, x, key=key)
    assert embedder.engine == "pytorch" and not kept_graph(key).exists()
    assert "ONNX Runtime differs from PyTorch by 5.00e-01 on 1 inputs" in caplog.text
    assert torch.equal(embedder(x), pytorch_features(backbone, prep, x))


# --- exports kept in the run folder -----------------------------------------------------------

@pytest.fixture(scope="module")
def bundle_run(tmp_path_factory) -> Path:
    """A run folder holding only a model bundle: pretrained features and a fresh head (integrity is
    not about accuracy)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("bundle") / "run"
    save_bundle(folder / "bundle", build_net("efficientnet_lite0", len(CLASSES), image_size=SIZE), CLASSES,
                "efficientnet_lite0", SIZE)
    return folder


@pytest.fixture
def run(bundle_run, tmp_path) -> RunDir:
    return RunDir(shutil.copytree(bundle_run, tmp_path / "run"))


def photo(tmp_path: Path) -> Path:
    rgb = np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    return tmp_path / "photo.png"


def shipped_onnx(zip_bytes: bytes) -> bytes:
    """The ONNX model inside a web page zip (model.js carries it in base64)."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        line = zf.read("model.js").decode().splitlines()[1]
    return base64.b64decode(line.removeprefix('window.tlModel.onnx = "').removesuffix('";'))


def test_an_onnx_file_with_changed_weights_and_intact_metadata_never_ships(run, tmp_path):
    export_to_run(run, "onnx", 0.0)  # as the Use page's "Make the ONNX file" does
    made = run.export_path("onnx").read_bytes()
    assert current_export(run, "onnx", 0.0) == made

    bad = nudged(made, len(CLASSES))
    assert onnx.load_from_string(bad).metadata_props == onnx.load_from_string(made).metadata_props
    run.export_path("onnx").write_bytes(bad)  # newer than the weights, metadata intact: it used to ship
    before = fingerprint(run.path)
    assert current_export(run, "onnx", 0.0) is None  # the Use page offers "Make the ONNX file" again
    write_web_demo(run.path)  # as the Use page's "Make the web page" does: made from the weights instead
    shipped = shipped_onnx(run.export_path("web").read_bytes())
    assert shipped != bad
    after = fingerprint(run.path)
    assert {k: v for k, v in after.items() if k not in ("web-demo.zip", "exports.json")} == {
        k: v for k, v in before.items() if k != "exports.json"}  # the changed file is left as it is...
    assert json.loads((run.path / "exports.json").read_text())["onnx"] == hashlib.sha256(made).hexdigest()  # ...unvouched

    predictor, image = Predictor.from_run(run.path), photo(tmp_path)
    expected = predictor.predict_files([image])[0]["probabilities"]
    x = {"image": predictor._prep(load_square_uint8(image, SIZE)[None]).numpy()}
    for graph, same in ((shipped, True), (bad, False)):
        got = ort.InferenceSession(graph, providers=["CPUExecutionProvider"]).run(["probabilities"], x)[0][0]
        assert (np.abs(got - [expected[c] for c in CLASSES]).max() < 1e-4) == same

    assert current_export(run, "web", 0.0) is not None  # the page, once made, is offered...
    page = run.export_path("web")
    page.write_bytes(page.read_bytes()[:-1] + b"!")
    assert current_export(run, "web", 0.0) is None  # ...until it is changed


# --- a bundle's calibration numbers -----------------------------------------------------------

def set_meta(run: RunDir, **values) -> None:
    path = run.bundle_path / META
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def temperature_line(shown: str) -> str:
    return "error: " + BAD_TEMPERATURE.format(value=shown, low=0.05, high=20)


# 5e-324 is a subnormal: a process where a library turned on flush-to-zero reads it from JSON as 0.0.
@pytest.mark.parametrize("value, shown", [(1e-300, "1e-300"), (5e-324, ("5e-324", "0.0")), (0, "0"), (-1.5, "-1.5"),
                                          (math.nan, "nan"), (math.inf, "inf"), ("1.0", "1.0"), (True, "True"),
                                          (1e6, "1000000.0")])
def test_a_temperature_that_is_not_a_calibrated_one_is_refused_in_one_line(run, tmp_path, capsys, value, shown):
    set_meta(run, temperature=value)
    image, before = photo(tmp_path), fingerprint(run.path)
    assert main(["predict", "--run", str(run.path), str(image)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() in {temperature_line(s) for s in ((shown,) if isinstance(shown, str) else shown)}
    assert fingerprint(run.path) == before


def test_probabilities_that_are_not_numbers_are_refused_not_printed(run, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    weights = run.bundle_path / "model.safetensors"
    state = load_file(str(weights))
    state["head.1.bias"] = torch.full_like(state["head.1.bias"], math.nan)
    save_file(state, str(weights))
    image, before = photo(tmp_path), fingerprint(run.path)
    assert main(["predict", "--run", str(run.path), str(image)]) == 2
    out, err = capsys.readouterr()
    assert "nan" not in out + err and err.strip() == "error: " + NOT_NUMBERS
    assert fingerprint(run.path) == before


def test_a_threshold_written_as_a_percent_is_read_as_one(run):
    set_meta(run, not_sure_below=70)
    rule = rule_of(run)
    assert rule == NotSureRule(0.7) and rule_sentence(rule) == ANSWERS_UNDER.format(below=0.7, asked="")


@pytest.mark.parametrize("value, shown", [(7000, "7000"), (-0.5, "-0.5"), ("70%", "70%"), (math.nan, "nan"),
                                          (None, "None"), (False, "False")])
def test_a_threshold_that_is_no_share_is_refused_in_one_line(run, value, shown):
    set_meta(run, not_sure_below=value)
    before = fingerprint(run.path)
    with pytest.raises(TLError) as refused:
        rule_of(run)
    shown_as = NOT_A_SHARE.format(what="The model's \"not sure\" threshold", value=shown)
    assert str(refused.value) == f"{shown_as} Train the model again."
    assert fingerprint(run.path) == before


@pytest.mark.parametrize("kept, rule", [({"below": 70, "target": 80}, NotSureRule(0.7, 0.8)),
                                        ({"below": 0.5, "target": 0.9}, NotSureRule(0.5, 0.9)),
                                        ({"below": 7000, "target": 0.9}, NotSureRule(0.0)),
                                        ({"below": -1}, NotSureRule(0.0)), ({"below": "high"}, NotSureRule(0.0))])
def test_the_users_rule_kept_in_the_run_folder_is_a_share_or_the_models_own_applies(run, kept, rule):
    run.not_sure_path.write_text(json.dumps(kept))
    before = fingerprint(run.path)
    assert rule_of(run) == rule and 0 <= rule_of(run).below <= 1
    assert fingerprint(run.path) == before


@pytest.mark.parametrize("text", ["{not json", "[0.7]", "\udcff"])
def test_a_damaged_model_description_is_one_line(run, tmp_path, capsys, text):
    (run.bundle_path / META).write_bytes(text.encode("utf-8", "surrogateescape"))
    image, before = photo(tmp_path), fingerprint(run.path)
    assert main(["predict", "--run", str(run.path), str(image)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == "error: " + DAMAGED_META.format(meta="model.json")
    assert fingerprint(run.path) == before
