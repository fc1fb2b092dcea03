"""Where pretrained weights come from: torchvision's cache, a download, or a user's file."""

from __future__ import annotations

import hashlib
import http.client
import os
import pickle
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import safetensors
import safetensors.torch
import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from tlcore.atomic import disk_full, is_disk_full
from tlcore.errors import TLError

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

Progress = Callable[[int, int | None], None]

# torch.hub's convention: "<name>-<sha256 prefix>.<ext>" (torch.hub.HASH_REGEX).
_HASH_REGEX = re.compile(r"-([a-f0-9]+)\.")
_CHUNK = 1 << 20
# URLError: refused connection, DNS failure, HTTP error status; the rest can happen mid-stream.
_NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)
_TORCH_SUFFIXES = (".pth", ".pt", ".bin")
# Checkpoints often wrap the weights together with optimizer state, epoch, etc.
_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model")
OFFLINE = ("There is no internet connection, so the weights of {name} could not be downloaded. Upload the weights "
           "file ({file}) on the Model page instead, after copying it from a computer with internet.")
REFUSED = ("The weights of {name} could not be downloaded (the server answered {code}). Please try again later, or "
           "upload the weights file on the Model page.")
NOT_HERE = "The pretrained weights for {name} are not on this computer. "
DOES_NOT_FIT = ("This weights file does not fit {model}: {missing} missing and {unexpected} unexpected layers, {wrong} "
                "of the wrong size (e.g. {examples}).")
NOT_WEIGHTS = ('{name} is not a weights file tlcore can read safely: save only the weights, with '
               'torch.save(model.state_dict(), "weights.pth") in PyTorch, or as a .safetensors file.')
# Old DenseNet checkpoints (still the ones torchvision serves) name layers "norm.1"; the
# current modules call them "norm1". torchvision's densenet builder renames them the same way.
_DENSENET_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def torchvision_weights(name: str) -> WeightsEnum:
    """The DEFAULT pretrained weights of torchvision model ``name`` (e.g. "resnet18")."""
    from torchvision.models import get_model_weights  # 2-3 s to import; the bundled models never need it

    try:
        return get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError) as e:
        raise TLError(f"torchvision has no pretrained weights for a model called {name!r}.") from e


def cache_path(url: str) -> Path:
    """Where torchvision's own loader looks for the file at ``url`` (respects TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def availability(name: str) -> str:
    """"cached" if the weights of model ``name`` are on this computer, else "download"."""
    return "cached" if cache_path(torchvision_weights(name).url).is_file() else "download"


def reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether the server that holds ``url`` answers, so a download from it can start: False on a
    computer without internet. Any answer counts (a refusal too); only no connection does not."""
    parts = urlparse(url)
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{parts.scheme}://{parts.netloc}/", method="HEAD"),
                                    timeout=timeout):
            return True
    except urllib.error.HTTPError:  # the server answered
        return True
    except (*_NETWORK_ERRORS, OSError, ValueError):
        return False


def _label(url: str) -> str:
    """A readable name for the weights at ``url``: "resnet18" for ".../resnet18-f37072fd.pth"."""
    base = os.path.basename(urlparse(url).path)
    return _HASH_REGEX.split(base)[0] if _HASH_REGEX.search(base) else base


def _offline(url: str) -> str:
    """One plain line for a download that found no internet: no address, no folder, no error type
    (the Model page shows it; the file name is what the user fetches elsewhere)."""
    return OFFLINE.format(name=_label(url), file=os.path.basename(urlparse(url).path))


def _how_to_get(url: str, dst: Path) -> str:
    return (
        f"Either connect to the internet, or download {url} on another computer and put it "
        f"at {dst}, or upload the file on the Model page."
    )


def _fetch(url: str, part: Path, progress: Progress | None, timeout: float) -> str:
    """Stream ``url`` into ``part``, reporting progress; return the sha256 of what was written."""
    sha = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
        length = resp.headers.get("Content-Length")
        total = int(length) if length else None
        done = 0
        if progress:
            progress(done, total)
        while chunk := resp.read(_CHUNK):
            out.write(chunk)
            sha.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    if total is not None and done != total:
        raise TLError(
            f"The download of the weights for {_label(url)} stopped early "
            f"({done} of {total} bytes). Please try again."
        )
    return sha.hexdigest()


def download(url: str, dst: Path, progress: Progress | None = None, timeout: float = 30) -> Path:
    """Download ``url`` to ``dst`` via a partial file of this thread's own, checking its hash
    prefix; two runs downloading the same weights at once each write their own and the last
    complete one replaces the other.

    ``progress(done_bytes, total_bytes_or_None)`` is called after every chunk.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(f"{dst.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        digest = _fetch(url, part, progress, timeout)
        expected = _HASH_REGEX.search(os.path.basename(urlparse(url).path))
        if expected and not digest.startswith(expected.group(1)):
            raise TLError(
                f"The downloaded weights of {_label(url)} are damaged (their checksum does not "
                "match). Please try again, or upload the weights file on the Model page."
            )
        os.replace(part, dst)
    except urllib.error.HTTPError as e:  # the internet works; the server refused
        raise TLError(REFUSED.format(name=_label(url), code=e.code)) from e
    except _NETWORK_ERRORS as e:
        raise TLError(_offline(url)) from e
    except OSError as e:  # not the network (checked above): the disk
        if is_disk_full(e):
            raise disk_full(dst) from e
        raise TLError(f"Could not save the weights of {_label(url)} on this computer: check that its "
                      "disk has room and that the studio may write to its folder.") from e
    finally:
        part.unlink(missing_ok=True)
    return dst


def _read_raw(path: Path) -> object:
    """The object stored in ``path``, read without running any code from the file."""
    if path.suffix == ".safetensors":
        return safetensors.torch.load_file(path, device="cpu")
    if path.suffix in _TORCH_SUFFIXES:
        # weights_only=True refuses pickles that would import or run arbitrary code.
        return torch.load(path, map_location="cpu", weights_only=True)
    raise TLError(
        f"{path.name} is not a weights file tlcore can read: use a .safetensors, .pth, .pt "
        "or .bin file."
    )


def _unwrap(obj: object) -> object:
    """The state dict inside common checkpoint containers like ``{"state_dict": ...}``."""
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            return obj
        obj = inner
    return obj


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Read a weights file (.safetensors, .pth, .pt, .bin) safely into a state dict on CPU."""
    path = Path(path)
    # One sentence without torch's details: they end in advice (weights_only=False) that would
    # run whatever code the file carries.
    not_readable = NOT_WEIGHTS.format(name=path.name)
    if not path.is_file():
        raise TLError(f"The weights file {path} does not exist.")
    try:
        obj = _unwrap(_read_raw(path))
    except TLError:
        raise
    except (pickle.UnpicklingError, safetensors.SafetensorError, RuntimeError, ValueError,
            EOFError, OSError) as e:
        raise TLError(not_readable) from e
    if not isinstance(obj, Mapping) or not obj:
        raise TLError(not_readable)
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise TLError(not_readable)
    state_dict = obj if isinstance(obj, dict) else dict(obj)
    if all(k.startswith("module.") for k in state_dict):
        # Saved from a DataParallel / DistributedDataParallel wrapper. This helper also renames
        # the per-module version ``_metadata`` that some modules (e.g. MNASNet) need to load.
        consume_prefix_in_state_dict_if_present(state_dict, "module.")
    return state_dict


def _fix_legacy_keys(name: str, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename old DenseNet keys (dropping ``_metadata`` is fine: DenseNet's modules ignore it)."""
    if not name.startswith("densenet"):
        return state_dict
    return {_DENSENET_LEGACY_KEY.sub(r"\1\2", k): v for k, v in state_dict.items()}


def pretrained_state_dict(
    name: str, progress: Progress | None = None, allow_download: bool = True
) -> dict[str, torch.Tensor]:
    """The DEFAULT pretrained weights of torchvision model ``name``, from cache or downloaded."""
    url = torchvision_weights(name).url
    path = cache_path(url)
    if not path.is_file():
        if not allow_download:
            raise TLError(NOT_HERE.format(name=name) + _how_to_get(url, path))
        download(url, path, progress)
    return _fix_legacy_keys(name, load_state_dict_file(path))


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def load_into(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], ignore_prefixes: Iterable[str] = ()
) -> None:
    """Load ``state_dict`` into ``model``, strictly except for keys under ``ignore_prefixes``.

    Checks everything before loading anything, so a file that does not fit leaves the model as it
    was.
    """
    prefixes = tuple(ignore_prefixes)
    current = model.state_dict()
    wanted = {k: v for k, v in current.items() if not k.startswith(prefixes)}
    given = {k: v for k, v in state_dict.items() if not k.startswith(prefixes)}
    # A checkpoint from before BatchNorm counted batches lacks this counter; it is not a weight.
    missing = [k for k in wanted if k not in given and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in given if k not in wanted]
    wrong = [k for k in given if k in wanted and given[k].shape != wanted[k].shape]
    if missing or unexpected or wrong:
        examples = (
            [f"{k} is missing" for k in missing[:2]]
            + [f"{k} is not in the model" for k in unexpected[:2]]
            + [f"{k} is {_shape(given[k])} in the file but {_shape(wanted[k])} in the model"
               for k in wrong[:2]]
        )
        raise TLError(DOES_NOT_FIT.format(model=type(model).__name__, missing=len(missing),
                                          unexpected=len(unexpected), wrong=len(wrong), examples="; ".join(examples)))
    # Keep the per-module versions that some modules (e.g. MNASNet) need to load; a file without
    # them (safetensors) was made for this model's current layout.
    kept = OrderedDict(given)
    kept._metadata = getattr(state_dict, "_metadata", None) or current._metadata
    model.load_state_dict(kept, strict=False)
