"""Which files a run started from the studio may read (those in the workspace, or none), and whether
a command can write the file it was asked to."""

from __future__ import annotations

from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.workspace import workspace_dir

PATH_SETTINGS = ("data", "test_data", "init_from", "weights")
NO_PATH = ("", "pretrained", "none")  # the defaults: no test set, no earlier run, ImageNet or random weights


def outside_workspace(cfg: TrainConfig) -> list[str]:
    """The settings of ``cfg`` that name a file or folder outside the workspace (symbolic links
    followed), in PATH_SETTINGS order; empty when every one is inside it or is a default."""
    root = workspace_dir().resolve()
    return [name for name in PATH_SETTINGS if (value := getattr(cfg, name)) not in NO_PATH
            and not Path(value).expanduser().resolve().is_relative_to(root)]


def writable_file(path: str) -> None:
    """Check, before any work, that ``path`` can become a file."""
    if Path(path).is_dir():
        raise TLError(f"{path} is a folder; give the name of a file to write instead.")
    if not Path(path).absolute().parent.is_dir():
        raise TLError(f"The folder for {path} does not exist; create it first or choose another place.")
