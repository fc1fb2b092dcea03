"""Tests for tlcore.models.weights: cache lookup, download, safe file loading, strict loading."""

import hashlib
import http.server
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
import safetensors.torch
import torch
import torchvision

from tlcore.errors import TLError
from wording import line, pattern
from tlcore.models.weights import (
    DOES_NOT_FIT,
    NOT_HERE,
    NOT_WEIGHTS,
    OFFLINE,
    REFUSED,
    availability,
    cache_path,
    download,
    load_into,
    load_state_dict_file,
    pretrained_state_dict,
    torchvision_weights,
)


class _Opaque:
    """Not a tensor: torch.load(weights_only=True) must refuse to rebuild it."""


def _small_state_dict() -> dict[str, torch.Tensor]:
    return torch.nn.Linear(4, 2).state_dict()


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """A private, empty TORCH_HOME for the duration of one test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))  # undone after: TORCH_HOME rules again
    yield tmp_path


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving files from a folder; yields (folder, base URL)."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_cache_path_follows_torch_home(torch_home):
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    assert cache_path(url) == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert torchvision_weights("resnet18") is torchvision.models.ResNet18_Weights.DEFAULT


def test_unknown_model_name_is_a_tlerror():
    with pytest.raises(TLError, match="no_such_net"):
        torchvision_weights("no_such_net")


def test_cached_weights_are_found_and_loaded_offline(torch_home):
    assert availability("resnet18") == "download"
    here = pattern(NOT_HERE, name="resnet18")
    with pytest.raises(TLError, match=f"^{here}.*upload the file on the Model page"):
        pretrained_state_dict("resnet18", allow_download=False)

    reference = torchvision.models.resnet18(weights=None).state_dict()
    path = cache_path(torchvision.models.ResNet18_Weights.DEFAULT.url)
    path.parent.mkdir(parents=True)
    torch.save(reference, path)

    assert availability("resnet18") == "cached"
    _assert_same(pretrained_state_dict("resnet18", allow_download=False), reference)


def test_download_streams_with_progress_and_checks_hash(served, tmp_path):
    root, base = served
    payload = torch.randn(700_000).numpy().tobytes()  # 2.8 MB: several 1 MiB chunks
    name = f"net-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (root / name).write_bytes(payload)
    calls = []

    dst = download(f"{base}/{name}", tmp_path / "out" / name,
                   progress=lambda done, total: calls.append((done, total)))

    assert dst.read_bytes() == payload
    assert len(calls) >= 3 and calls[-1] == (len(payload), len(payload))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert not list(dst.parent.glob("*.part"))


def test_two_downloads_of_the_same_weights_at_once_both_succeed(served, tmp_path):
    root, base = served
    payload = torch.randn(700_000).numpy().tobytes()
    name = f"net-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (root / name).write_bytes(payload)
    dst = tmp_path / name
    slow = lambda done, total: time.sleep(0.05)  # noqa: E731 - keeps both downloads in flight together
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: download(f"{base}/{name}", dst, progress=slow), range(2)))
    assert results == [dst, dst] and dst.read_bytes() == payload
    assert not list(tmp_path.glob("*.part"))


def test_download_without_a_name_server_says_offline_in_one_line(tmp_path, monkeypatch):
    """No network at all: urlopen fails before connecting (as with no DNS), not only a closed port."""
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    with pytest.raises(TLError) as err:
        download(url, tmp_path / "w.pth")
    message = str(err.value)
    assert re.match(line(OFFLINE), message) and "\n" not in message
    assert "download.pytorch.org" not in message and "/" not in message
    assert "URLError" not in message and "name resolution" not in message


def test_download_refused_by_the_server_says_so_plainly(served, tmp_path):
    _, base = served
    with pytest.raises(TLError) as err:
        download(f"{base}/missing-deadbeef.pth", tmp_path / "missing-deadbeef.pth")
    message = str(err.value)
    assert message == REFUSED.format(name="missing", code=404)
    assert "/" not in message and "HTTPError" not in message and "127.0.0.1" not in message


def test_download_rejects_a_hash_mismatch(served, tmp_path):
    root, base = served
    (root / "net-deadbeef.pth").write_bytes(b"not the file the name promises")
    dst = tmp_path / "net-deadbeef.pth"
    with pytest.raises(TLError, match="damaged") as err:
        download(f"{base}/net-deadbeef.pth", dst)
    assert "/" not in str(err.value) and "Model page" in str(err.value)
    assert not dst.exists()
    assert not list(dst.parent.glob("*.part"))


def test_download_without_network_explains_what_to_do(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/resnet18-f37072fd.pth"
    dst = tmp_path / "resnet18-f37072fd.pth"
    with pytest.raises(TLError) as err:
        download(url, dst, timeout=5)
    message = str(err.value)
    assert message == OFFLINE.format(name="resnet18", file="resnet18-f37072fd.pth")
    assert "\n" not in message and "http" not in message and "127.0.0.1" not in message
    assert "/" not in message and str(tmp_path) not in message  # no address, no folder
    assert "Error" not in message and "refused" not in message.lower()  # no exception's name or text
    assert not dst.exists()
    assert not list(dst.parent.glob("*.part"))


@pytest.mark.parametrize("suffix", [".safetensors", ".pth", ".pt", ".bin"])
def test_load_state_dict_file_formats(tmp_path, suffix):
    sd = _small_state_dict()
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        safetensors.torch.save_file(sd, path)
    else:
        torch.save(sd, path)
    _assert_same(load_state_dict_file(path), sd)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model": sd, "optimizer": {"lr": 0.1}},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
    ],
    ids=["state_dict", "model", "dataparallel", "both"],
)
def test_load_state_dict_file_unwraps_checkpoints(tmp_path, wrap):
    sd = _small_state_dict()
    torch.save(wrap(sd), tmp_path / "ckpt.pth")
    _assert_same(load_state_dict_file(tmp_path / "ckpt.pth"), sd)


@pytest.mark.parametrize(
    "content",
    [
        {"weight": _Opaque()},  # unpickling refused by weights_only=True
        {"weight": torch.zeros(2), "epoch": 3},  # not only tensors
        {},  # no weights at all
    ],
    ids=["custom-object", "non-tensor", "empty"],
)
def test_load_state_dict_file_refuses_what_it_cannot_read_safely(tmp_path, content):
    torch.save(content, tmp_path / "bad.pth")
    with pytest.raises(TLError, match=line(NOT_WEIGHTS)):
        load_state_dict_file(tmp_path / "bad.pth")


def test_load_state_dict_file_refuses_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "garbage.pth").write_bytes(b"\x00garbage")
    with pytest.raises(TLError, match="safetensors"):
        load_state_dict_file(tmp_path / "notes.txt")
    with pytest.raises(TLError, match="read safely"):
        load_state_dict_file(tmp_path / "garbage.pth")
    with pytest.raises(TLError, match="does not exist"):
        load_state_dict_file(tmp_path / "missing.pth")


def test_densenet_legacy_keys_are_renamed(torch_home):
    """torchvision still serves DenseNet files with old names and no num_batches_tracked."""
    model = torchvision.models.densenet121(weights=None)
    legacy = {k.replace("norm1", "norm.1").replace("conv2", "conv.2"): v
              for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = cache_path(torchvision.models.DenseNet121_Weights.DEFAULT.url)
    path.parent.mkdir(parents=True)
    torch.save(legacy, path)
    load_into(model, pretrained_state_dict("densenet121", allow_download=False))


def test_load_into_keeps_module_versions(tmp_path):
    """MNASNet refuses to load without the per-module versions stored beside the weights."""
    source = torchvision.models.mnasnet0_5(weights=None, num_classes=3)
    torch.save(torch.nn.DataParallel(source).state_dict(), tmp_path / "a.pth")
    torch.save({"state_dict": source.state_dict()}, tmp_path / "b.pth")
    safetensors.torch.save_file(source.state_dict(), tmp_path / "c.safetensors")
    for name in ("a.pth", "b.pth", "c.safetensors"):
        target = torchvision.models.mnasnet0_5(weights=None, num_classes=3)
        load_into(target, load_state_dict_file(tmp_path / name))
        assert torch.equal(target.classifier[1].weight, source.classifier[1].weight)


def test_load_into_ignores_the_replaced_head():
    source = torchvision.models.resnet18(weights=None, num_classes=10)
    target = torchvision.models.resnet18(weights=None, num_classes=3)
    load_into(target, source.state_dict(), ignore_prefixes=("fc.",))
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    assert target.fc.out_features == 3


def test_load_into_rejects_a_file_that_does_not_fit_and_changes_nothing():
    source = torchvision.models.resnet18(weights=None, num_classes=10)
    target = torchvision.models.resnet18(weights=None, num_classes=3)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(TLError, match=line(DOES_NOT_FIT, model="ResNet", missing=0, unexpected=0, wrong=2,
                                           examples=re.compile(r".*fc\.weight is 10x512.*"))):
        load_into(target, source.state_dict())
    _assert_same(target.state_dict(), before)

    partial_sd = {k: v for k, v in source.state_dict().items() if not k.startswith("layer4.")}
    partial_sd["extra.weight"] = torch.zeros(1)
    with pytest.raises(TLError, match=r"\d+ missing and 1 unexpected"):
        load_into(target, partial_sd, ignore_prefixes=("fc.",))


def test_the_model_page_says_offline_in_one_line_and_offers_the_upload(monkeypatch, tmp_path):
    """Clicking "Download weights" without internet: one plain error line, and the upload box."""
    import urllib.error
    import urllib.request

    from app_fixtures import studio

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torchvision weights on this "computer"
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    at = studio("model")
    next(b for b in at.button if b.key == "download_resnet18").click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    shown = error.replace("\\", "")  # Markdown escapes, not seen on the page
    assert shown.startswith(OFFLINE.format(name="resnet18", file="resnet18-f37072fd.pth"))
    assert "\n" not in shown and "/" not in shown and "http" not in shown and str(tmp_path) not in shown
    assert "Error" not in shown and "unreachable" not in shown and "Something went wrong" not in shown
    upload = at.file_uploader(key="weights_resnet18")  # the way in that the message names, right there
    assert upload.label == "…or upload the weights file"
