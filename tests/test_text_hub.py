"""Sentence encoders whose files download from the Hugging Face Hub, listed, fetched and shown as the image
models that need a download are. No test reaches the network: the files are built here from the bundled
MiniLM-L6 (its embeddings and first 3 layers: the shape of paraphrase-MiniLM-L3-v2) and put in place, or
served to the downloader by a stand-in for the internet."""

import io
import json
import re
import urllib.error
import urllib.request

import pytest
import streamlit as st
import torch
from app_fixtures import studio, texts
from safetensors.torch import load_file, save_file
from text_fixtures import table_bytes

from pages import ui
from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.jobs.train import create_run, execute
from tlcore.models.catalog import get_spec, list_specs
from tlcore.models.text_net import HUB_FILES, build_text_backbone, hub_url, text_model_folder
from tlcore.studio import download_weights, import_texts, text_folder, weights_state
from tlcore.training.text_inputs import TEXT_MODEL

L3 = "paraphrase_minilm_l3_v2"


@pytest.fixture
def hub_bytes(tmp_path) -> dict[str, bytes]:
    """The L3 model's files by name: the bundled MiniLM-L6's, cut to its first 3 layers."""
    bundled = text_model_folder(get_spec(TEXT_MODEL))
    config = json.loads((bundled / "config.json").read_text()) | {"num_hidden_layers": 3}
    weights = {k: v for k, v in load_file(bundled / "model.safetensors").items()
               if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < 3}
    save_file(weights, tmp_path / "model.safetensors")
    files = {name: (bundled / name).read_bytes() for name in HUB_FILES if name != "model.safetensors"}
    return files | {"config.json": json.dumps(config).encode(),
                    "model.safetensors": (tmp_path / "model.safetensors").read_bytes()}


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no downloaded files on this "computer"
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # torch.hub.get_dir() follows TORCH_HOME
    st.cache_data.clear()  # the Model page keeps the answer to "is this computer online?" for a minute
    yield
    st.cache_data.clear()


def _place(files: dict[str, bytes]) -> None:
    folder = text_model_folder(get_spec(L3))
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def test_hub_text_models_are_listed_as_text_models_that_download(torch_home, hub_bytes, capsys):
    hub = [s for s in list_specs("text") if s.source == "hub"]
    assert [s.name for s in hub] == [L3, "all_minilm_l12_v2"] and list_specs("text")[0].name == TEXT_MODEL
    assert not any(s.source == "hub" for s in list_specs("image"))
    assert [len(s.stages) for s in hub] == [4, 13] and all(s.max_tokens == 128 for s in hub)
    assert hub_url(hub[0]) == ("https://huggingface.co/sentence-transformers/paraphrase-MiniLM-L3-v2/resolve/main/"
                               "model.safetensors")
    assert main(["models"]) == 0
    assert re.search(rf"^{L3} +17\.2M .* 4  download$", capsys.readouterr().out, re.MULTILINE)
    assert weights_state(hub[0], online=lambda url: False) == "offline"
    assert weights_state(hub[0], online=lambda url: True) == "download"
    _place(hub_bytes)
    assert weights_state(hub[0], online=lambda url: False) == "cached"
    encoder = build_text_backbone(hub[0])
    assert sum(p.numel() for p in encoder.parameters()) == hub[0].params  # the catalog's count, exactly


class _Served(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_the_download_fetches_every_file_from_the_hub_into_the_models_folder(torch_home, hub_bytes, monkeypatch):
    asked = []

    def internet(url, timeout):
        asked.append(url)
        return _Served(hub_bytes[url.split("/resolve/main/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", internet)
    seen = []
    folder = download_weights(get_spec(L3), progress=lambda done, total: seen.append((done, total)))
    assert asked == [hub_url(get_spec(L3), name) for name in HUB_FILES]
    assert {name: (folder / name).read_bytes() for name in HUB_FILES} == hub_bytes
    assert seen[-1] == (len(hub_bytes["model.safetensors"]),) * 2 and weights_state(get_spec(L3)) == "cached"


def test_a_hub_text_model_trains_from_its_downloaded_files(torch_home, hub_bytes, tmp_path):
    _place(hub_bytes)
    folder = text_folder(import_texts(table_bytes(), "topics.csv"))
    run = create_run(TrainConfig(data=folder, model=L3, trainable_stages=1, epochs=1, evaluation="holdout",
                                 device="cpu"), tmp_path / "run")
    assert execute(run.path) == "finished", run.status()
    assert run.record().config.model == L3 and run.metrics().val.count == 6


def test_the_model_page_shows_the_text_models_with_the_image_models_words(torch_home, hub_bytes, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    def answered(request, timeout):  # the Hub answers (here with a refusal): online
        raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", {}, None)

    folder = text_folder(import_texts(table_bytes(), "topics.csv"))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    at = studio("model", **{ui.DATASET: folder})
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader][:3] == ["MiniLM-L6 sentence encoder :material/check_circle:",
                                                   "MiniLM-L3 paraphrase encoder", "MiniLM-L12 sentence encoder"]
    shown = texts(at.markdown)
    assert ":green[**Ready:** weights included, works offline]" in shown
    assert shown.count("**Weights missing, and this computer is offline:** to use this model, connect to the "
                       "internet and download them") == 2
    assert at.button(key=f"use_{L3}").disabled and "ImageNet" not in shown
    monkeypatch.setattr(urllib.request, "urlopen", answered)
    st.cache_data.clear()
    at = studio("model", **{ui.DATASET: folder})
    assert ("**Weights not on this computer yet** (69.6 MB): they download by themselves when training starts"
            in texts(at.markdown))
    assert f"download_{L3}" in [b.key for b in at.button]
    _place(hub_bytes)
    at = studio("model", **{ui.DATASET: folder})
    assert ":green[**Ready:** weights already on this computer]" in texts(at.markdown)
    at.button(key=f"use_{L3}").click().run()
    assert not at.exception and at.session_state[ui.MODEL] == L3
    assert "**Model:** MiniLM-L3 paraphrase encoder" in texts(at.sidebar.markdown)
