"""A strategy sweep's or a learning curve's folder (a "study"): several runs of one request, side
by side. The layout:

    request.json        what the studio asked for: the base config, when, and a sweep's depths
    summary.json        a sweep's rows so far, one per finished run (curve.json for a curve)
    sweep.log           the worker's output (curve.log)
    depth-N/, scratch/  a sweep's run folders
    NNpct/data/, NNpct/run/   a curve's point: its share of the images and its run folder

This class is the only code that knows these names and the JSON in them."""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path

from tlcore.atomic import atomic_write_json, read_json
from tlcore.config import TrainConfig

ROWS = {"sweep": "summary.json", "curve": "curve.json"}


class StudyDir:
    """Typed access to one sweep's (``kind`` "sweep") or learning curve's ("curve") folder."""

    def __init__(self, path: str | Path, kind: str) -> None:
        if kind not in ROWS:
            raise ValueError(f"no study of kind {kind!r}")
        self.path, self.kind = Path(path), kind

    request_path = property(lambda self: self.path / "request.json")
    rows_path = property(lambda self: self.path / ROWS[self.kind])
    log_path = property(lambda self: self.path / f"{self.kind}.log")
    name = property(lambda self: self.path.name)

    @classmethod
    def create(cls, parent: Path, kind: str, base: TrainConfig, **asked) -> StudyDir:
        """A new study folder in ``parent`` holding its request: ``base`` and what else was ``asked``."""
        study = cls(parent / f"{time.strftime('%Y%m%d-%H%M%S')}-{base.model}", kind)
        study.path.mkdir(parents=True)
        atomic_write_json(study.request_path, {"config": base.to_json(), **asked, "created": time.time()})
        return study

    @classmethod
    def all_in(cls, parent: Path, kind: str) -> list[StudyDir]:
        """The studies in ``parent`` (those with a request), newest first."""
        found = [cls(request.parent, kind) for request in parent.glob("*/request.json")]
        return sorted(found, key=lambda s: s.created, reverse=True)

    def requested(self) -> bool:
        """Whether the studio asked for this study (a request.json), as opposed to the command line."""
        return self.request_path.is_file()

    @cached_property
    def _request(self) -> dict:
        return read_json(self.request_path)

    def config(self) -> TrainConfig:
        """The base config every run of the study varies."""
        return TrainConfig.from_json(self._request["config"])

    data = property(lambda self: self._request["config"]["data"])  # as asked, unchecked: for listing
    model = property(lambda self: self._request["config"]["model"])
    created = property(lambda self: self._request["created"])
    depths = property(lambda self: self._request["depths"])  # a sweep's depths asked for
    from_scratch = property(lambda self: bool(self._request["from_scratch"]))  # a sweep's run from random weights

    @property
    def planned(self) -> int:
        """How many runs a sweep asked for."""
        return len(self.depths) + self.from_scratch

    def rows(self) -> list[dict]:
        """One row per finished run, in order."""
        return read_json(self.rows_path, [])

    def write_rows(self, rows: list[dict]) -> None:
        atomic_write_json(self.rows_path, rows)

    def run_path(self, depth: int, scratch: bool) -> Path:
        """A sweep's run folder for ``depth`` (or the one from scratch)."""
        return self.path / ("scratch" if scratch else f"depth-{depth}")

    def point_path(self, fraction: float) -> Path:
        """A curve's folder for the point at ``fraction`` of the images (its data/ and run/)."""
        return self.path / f"{round(fraction * 100)}pct"
