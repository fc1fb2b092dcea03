"""The studio's front door: every operation the pages and the command line perform (plan a run,
start, watch and stop it, import data and weights, export, list runs) and the values they pass.

The pages import only this package (``from tlcore.studio import ...``) and their own display
helpers; ``tests/test_front_door.py`` checks it. The work itself lives in the engine's packages
(``data``, ``models``, ``training``, ``jobs``, ``use``); this package decides nothing of its own.
"""

from __future__ import annotations

from tlcore.errors import TLError

# Planning and running: the settings a run is asked with, its Plan (decided once: the Strategy page
# previews it, the Train page and the command line start it, the run records it) and what the
# pages say about it.
from tlcore.config import AUTO, DEFAULT_MODEL, FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.jobs.plan import Plan
from tlcore.models.ensemble import recipe_costs
from tlcore.models.ensemble import ready as ensemble_ready
from tlcore.models.net import stage_param_counts
from tlcore.studio.plans import plan, start
from tlcore.training.devices import device_words, gpu_name, resolve_device
from tlcore.training.recommend import Recommendation
from tlcore.training.timing import Estimate
from tlcore.workspace import load_choices, save_choices

__all__ = ["TLError",
           "AUTO", "DEFAULT_MODEL", "FASTEST", "MOST_ACCURATE", "TrainConfig", "Plan", "Recommendation", "Estimate",
           "plan", "start", "recipe_costs", "ensemble_ready", "stage_param_counts", "device_words", "gpu_name",
           "resolve_device", "load_choices", "save_choices"]
