"""The run's settings as the pages offer them, made from TrainConfig's field descriptions
(``tlcore.schema``): a widget offers exactly the values the config takes."""

from __future__ import annotations

from tlcore.config import TrainConfig
from tlcore.schema import Setting, defaults_of, settings_of

SETTINGS: dict[str, Setting] = settings_of(TrainConfig)
DEFAULTS: dict = defaults_of(TrainConfig)
# Under "Advanced settings" on the Strategy page, each read from its widget into the run's config.
ADVANCED = tuple(name for name, s in SETTINGS.items() if s.advanced and s.on_page)
# Number widgets: (type, lowest, highest) as their fields allow; None: no bound.
NUMBERS = {name: (int if s.kind == "int" else float, *s.widget_range())
           for name, s in SETTINGS.items() if s.on_page and s.kind in ("int", "float")}
CHOICES = {name: s.choices for name, s in SETTINGS.items() if s.on_page and s.kind == "choice"}
