"""Planning and running: the Plan of a run before it starts (what the Strategy page previews, and
what the Train page and the command line start), and starting it. The Plan is decided once, here,
and the run records and follows it (tlcore.jobs.plan)."""

from __future__ import annotations

from tlcore.config import TrainConfig
from tlcore.jobs import runs
from tlcore.jobs.plan import Plan
from tlcore.jobs.train import plan_run
from tlcore.rundir import RunDir
from tlcore.models.ensemble import ready as ensemble_ready, recipe_costs  # noqa: F401 (offered by the front door)
from tlcore.models.net import stage_param_counts  # noqa: F401
from tlcore.training.devices import device_words, gpu_name, resolve_device  # noqa: F401
from tlcore.training.recommend import Recommendation  # noqa: F401
from tlcore.training.timing import Estimate  # noqa: F401


def plan(request: TrainConfig, device: str | None = None) -> Plan:
    """The Plan of a run of ``request`` on this computer (on ``device``, "cpu" or "cuda", where
    given; else where the request's device setting puts it); a TLError says what to fix."""
    kind = device or resolve_device(request.device).type
    return plan_run(request, kind)


def start(decided: Plan, parent: str = "") -> RunDir:
    """Start a run in the workspace that follows ``decided`` (``parent``: the run it copies)."""
    return runs.start_run(decided.request, parent=parent, plan=decided)
