"""Where the studio's folder (the workspace) is. A module of its own, below everything that writes
files, so that a message about a full disk can say whether the disk is the studio's."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TLSTUDIO_HOME"


def home() -> Path:
    """``$TLSTUDIO_HOME`` if set, else ``~/.tlstudio``; not created here (see workspace.workspace_dir)."""
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".tlstudio")
