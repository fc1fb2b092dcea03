"""The studio's front door: every operation the pages and the command line perform (plan a run,
start, watch and stop it, import data and weights, export, list runs) and the values they pass.

The pages import only this package (``from tlcore.studio import ...``) and their own display
helpers; ``tests/test_front_door.py`` checks it. The work itself lives in the engine's packages
(``data``, ``models``, ``training``, ``jobs``, ``use``); this package decides nothing of its own.
"""

from __future__ import annotations

from tlcore.errors import TLError

# Labelling
from tlcore.studio.labelling import (Suggested, add_to_pool, apply_labels_csv, bulk_accept, compute_features,
                                     confirm, history, how_labelled, pool_images, skip, suggest_for_run,
                                     suggestions, suggestions_csv, undo)

__all__ = ["TLError",
           # Labelling
           "Suggested", "add_to_pool", "apply_labels_csv", "bulk_accept", "compute_features", "confirm", "history",
           "how_labelled", "pool_images", "skip", "suggest_for_run", "suggestions", "suggestions_csv", "undo"]
