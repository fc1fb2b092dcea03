"""Where a model bundle's files are, with no heavy imports: the run folder reads it in the app, and
``tlcore.models.bundle`` writes and reads the files themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WEIGHTS = "model.safetensors"
META = "model.json"
IN_RUN = "bundle"  # the folder a run keeps its bundle in


@dataclass(frozen=True)
class Bundle:
    """A model bundle's folder, its weights and their description."""

    folder: Path

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS

    @property
    def meta(self) -> Path:
        return self.folder / META


def run_bundle(run_folder: str | Path) -> Bundle:
    """The bundle a run folder keeps (``tlcore.rundir.RunDir.bundle``), e.g. of the earlier run a new one grows from."""
    return Bundle(Path(run_folder) / IN_RUN)
