"""The studio's front door: every operation the pages and the command line perform (plan a run,
start, watch and stop it, import data and weights, export, list runs) and the values they pass.

The pages import only this package (``from tlcore.studio import ...``) and their own display
helpers; ``tests/test_front_door.py`` checks it. The work itself lives in the engine's packages
(``data``, ``models``, ``training``, ``jobs``, ``use``); this package decides nothing of its own.
"""

from __future__ import annotations

from tlcore.errors import TLError

# Planning and running
from tlcore.jobs.plan import Plan
from tlcore.studio.plans import plan, start

__all__ = ["TLError", "Plan", "plan", "start"]
