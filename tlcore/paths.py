"""Which files a run started from the studio may read: those in the workspace, or none."""

from __future__ import annotations

from pathlib import Path

from tlcore.config import TrainConfig
from tlcore.workspace import workspace_dir

PATH_SETTINGS = ("data", "test_data", "init_from", "weights")
NO_PATH = ("", "pretrained", "none")  # the defaults: no test set, no earlier run, ImageNet or random weights


def outside_workspace(cfg: TrainConfig) -> list[str]:
    """The settings of ``cfg`` that name a file or folder outside the workspace (symbolic links
    followed), in PATH_SETTINGS order; empty when every one is inside it or is a default."""
    root = workspace_dir().resolve()
    return [name for name in PATH_SETTINGS if (value := getattr(cfg, name)) not in NO_PATH
            and not Path(value).expanduser().resolve().is_relative_to(root)]
