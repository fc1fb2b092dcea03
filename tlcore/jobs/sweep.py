"""Strategy sweep: the same data and split trained at several freezing depths (and optionally
from scratch), side by side, so a user sees what transfer bought and which depth suits the data."""

from __future__ import annotations

import time
from pathlib import Path

from tlcore.models.catalog import get_spec
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.rundir import RunDir
from tlcore.studydir import StudyDir
from tlcore.jobs.train import create_run, execute
from tlcore.training.text_inputs import for_data


def parse_depths(text: str, num_stages: int) -> list[int]:
    """"0,1,half,all" -> stage counts (duplicates removed, order kept)."""
    out: list[int] = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        depth = {"all": num_stages, "half": num_stages // 2}.get(token)
        if depth is None:
            if not token.isdigit() or int(token) > num_stages:
                raise TLError(f"'{token}' is not a depth: use numbers from 0 to {num_stages}, 'half' or 'all'.")
            depth = int(token)
        if depth not in out:
            out.append(depth)
    if not out:
        raise TLError("Give at least one depth, e.g. 0,1,all.")
    return out


def _row(cfg: TrainConfig, folder: Path, depth: int, scratch: bool) -> dict:
    start = time.perf_counter()
    state = execute(create_run(cfg, folder).path)
    seconds = time.perf_counter() - start
    metrics = RunDir(folder).metrics()
    val = metrics.val if metrics else None
    label = "from scratch (random weights), all stages" if scratch else (
        "feature extraction (frozen network)" if depth == 0 else f"pretrained, last {depth} stage(s) trained")
    return {"strategy": label, "depth": depth, "from_scratch": scratch, "state": state,
            "accuracy": val.accuracy if val else None, "f1_macro": val.f1_macro if val else None,
            "seconds": round(seconds, 2), "run": str(folder)}


def sweep(base: TrainConfig, depths: list[int] | str, from_scratch: bool, out: Path) -> list[dict]:
    """Train ``base`` (with the model its data needs: ``for_data``) once per depth (stage counts, or
    the command line's "0,1,half,all") and from scratch, writing the sweep's rows in ``out`` as it
    goes. Every depth is scored on the same validation images (cross-validation is for frozen
    networks only, and would make the depths incomparable)."""
    study = StudyDir(out, "sweep")
    if study.rows_path.exists() and not study.requested():
        raise TLError(f"{study.path} already holds a sweep. Choose a new folder.")
    base = for_data(base)
    stages = len(get_spec(base.model).stages)
    depths = parse_depths(depths, stages) if isinstance(depths, str) else depths
    plan = [(d, False) for d in depths] + ([(stages, True)] if from_scratch else [])
    rows: list[dict] = []
    for depth, scratch in plan:
        cfg = base.with_(trainable_stages=depth, weights="none" if scratch else base.weights, evaluation="holdout")
        rows.append(_row(cfg, study.run_path(depth, scratch), depth, scratch))
        study.write_rows(rows)
    return rows


def run_request(request: Path) -> list[dict]:
    """The worker side of a sweep started in the workspace (studies.start_sweep): its request, in its folder."""
    study = StudyDir(request.parent, "sweep")
    return sweep(study.config(), study.depths, study.from_scratch, study.path)
