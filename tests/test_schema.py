"""One schema: TrainConfig's description of each setting, the command line's options and the Strategy
page's widgets agree on names, defaults, bounds, choices and help; each widget offers exactly what the
config takes."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest

from tlcore import cli
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.schema import BROWSER_INT, next_normal
from tlcore.studio import settings

SETTINGS, DEFAULTS = settings.SETTINGS, settings.DEFAULTS
NAMES = [f.name for f in fields(TrainConfig)]
WORDS = sorted({c for s in SETTINGS.values() for c in s.choices} | {"all", "", "AUTO", "best"})


def takes(name: str, value) -> bool:
    """Whether TrainConfig takes ``value`` for ``name`` (every other setting at its default)."""
    try:
        TrainConfig(**{"data": "photos", name: value})
    except TLError:
        return False
    return True


def _past(value, kind, direction: int):
    """The next value beyond ``value`` that ``kind`` can hold, going up (1) or down (-1)."""
    return value + direction if kind is int else next_normal(value, direction * math.inf)


def test_every_field_is_described_once_with_its_words():
    assert list(SETTINGS) == NAMES  # a new field comes with its description
    flags = [s.flag for s in SETTINGS.values()]
    assert len(set(flags)) == len(flags) and all(f.startswith("--") for f in flags)
    for name, s in SETTINGS.items():
        assert s.label and s.help.endswith("."), name
        if name in DEFAULTS:
            assert takes(name, DEFAULTS[name]), name
        if s.kind == "choice":
            assert DEFAULTS[name] in s.choices and set(s.words()) == set(s.choices)


def _train_options() -> dict:
    """The train command's options by flag (parsed from the real parser)."""
    parser = cli._parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    return {flag: action for action in sub.choices["train"]._actions for flag in action.option_strings}


def _parsed(flag: str, text: str):
    args = cli._parser().parse_args(["train", "--data", "photos", "--out", "run", f"{flag}={text}"])
    return vars(args)[_train_options()[flag].dest]


@pytest.mark.parametrize("name", NAMES)
def test_the_command_line_offers_each_setting_with_its_default_choices_and_help(name):
    s, options = SETTINGS[name], _train_options()
    assert s.flag in options, f"train has no {s.flag}"
    action = options[s.flag]
    assert action.help.replace("%%", "%").startswith(s.help)
    if name not in DEFAULTS:
        assert action.required
    elif s.kind == "bool":  # a switch: given, it turns the default around ("--no-class-weighting")
        setting = (lambda given: not given) if s.flag.startswith("--no-") else bool
        assert action.default is False and setting(False) == DEFAULTS[name]
        assert setting(_parsed_switch(s.flag)) == (not DEFAULTS[name])
    else:
        assert action.default == DEFAULTS[name] and type(action.default) is type(DEFAULTS[name])
    if s.kind == "choice":
        assert tuple(action.choices) == s.choices
    for value in s.also:  # "all", "auto": typed as they are; None and 0: the default or typed
        if isinstance(value, str) or value == 0:
            assert _parsed(s.flag, str(value)) == value
    if s.kind in ("int", "float"):
        kind = int if s.kind == "int" else float
        for bound, direction, closed in ((s.low, -1, not s.open_low), (s.high, 1, not s.open_high)):
            if bound is None:
                continue
            inside = bound if closed else _past(kind(bound), kind, -direction)
            outside = _past(kind(bound), kind, direction) if closed else bound
            assert takes(name, _parsed(s.flag, repr(kind(inside)))), (name, inside)
            assert not takes(name, _parsed(s.flag, repr(kind(outside)))), (name, outside)


def _parsed_switch(flag: str) -> bool:
    args = cli._parser().parse_args(["train", "--data", "photos", "--out", "run", flag])
    return vars(args)[_train_options()[flag].dest]


def test_sweep_and_curve_options_are_the_settings_own_with_their_commands_defaults():
    parser = cli._parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    own = {"sweep": {"epochs": 10, "augment": "none"}, "curve": {"epochs": 40}}
    by_flag = {s.flag: name for name, s in SETTINGS.items()}
    for command, defaults in own.items():
        seen = set()
        for action in sub.choices[command]._actions:
            name = next((by_flag[f] for f in action.option_strings if f in by_flag), None)
            if name is None:
                continue
            seen.add(name)
            assert action.help.startswith(SETTINGS[name].help), (command, name)
            assert action.default == defaults.get(name, DEFAULTS.get(name)), (command, name)
        assert {"data", "model", "epochs", "image_size", "device"} <= seen
    sweep = {f: a for a in sub.choices["sweep"]._actions for f in a.option_strings}
    assert tuple(sweep["--augment"].choices) == ("none", "light", "strong")  # a sweep compares fixed settings


@pytest.mark.parametrize("name", sorted(settings.NUMBERS))
def test_each_number_widget_offers_exactly_what_the_config_takes(name):
    s, (kind, low, high) = SETTINGS[name], settings.NUMBERS[name]
    assert kind is (int if s.kind == "int" else float) and s.on_page
    # below the lowest: the next value down, or an open bound at 0 itself (the widget starts at the
    # smallest normal float above it, as the subnormals between may read as 0)
    below = s.low if s.open_low and s.low == 0 else _past(low, kind, -1)
    assert low is not None and takes(name, low) and not takes(name, below)
    assert takes(name, high)
    if kind is int and high == BROWSER_INT and (s.high is None or s.high > BROWSER_INT):
        assert takes(name, BROWSER_INT + 1)  # the browser holds no larger whole number; the config takes more
    else:
        assert not takes(name, _past(high, kind, 1))
    for value in s.also:  # outside the field's range: its own widget (the model's own size, as recommended)
        assert takes(name, value) and not (low <= (value or 0) <= high)


@pytest.mark.parametrize("name", sorted(settings.CHOICES))
def test_each_choice_widget_offers_exactly_what_the_config_takes(name):
    offered = settings.CHOICES[name]
    assert offered == SETTINGS[name].choices
    assert [w for w in WORDS if takes(name, w)] == sorted(offered)


def test_the_advanced_settings_are_the_ones_the_page_shows_under_advanced():
    assert set(settings.ADVANCED) == {n for n, s in SETTINGS.items() if s.advanced and s.on_page}
    assert {"lr", "seed", "image_size", "warmup_epochs", "recipe", "weights"} <= set(settings.ADVANCED)
    assert not {"data", "model", "epochs", "trainable_stages", "folds", "world_size"} & set(settings.ADVANCED)


def test_the_strategy_page_draws_each_setting_as_described(digits):
    from app_fixtures import studio

    from pages import ui

    at = studio("strategy", **{ui.DATASET: digits})
    at.checkbox(key="image_size_own").uncheck().run()  # the size in pixels, instead of the model's own
    widgets = {w.key: w for kind in ("number_input", "selectbox", "checkbox", "slider", "radio") for w in at.get(kind)}
    for name in (*settings.ADVANCED, "epochs"):
        s = SETTINGS[name]
        widget = widgets["image_size_pixels" if name == "image_size" else ui.OPT + name]
        assert widget.proto.help.startswith(s.help), name
        if name == "epochs":  # 0: as chosen above, which leaves the epochs to the recommendation
            assert (widget.proto.min, widget.proto.max) == (0, settings.NUMBERS[name][2]) and takes(name, None)
            continue
        assert widget.label == s.label, name
        if name in settings.NUMBERS:
            assert (widget.proto.min, widget.proto.max) == settings.NUMBERS[name][1:], name
        if name in settings.CHOICES and widget.type == "selectbox":
            assert widget.options == [s.words()[c] for c in s.choices], name
        elif name in settings.CHOICES:  # the model to make, with each recipe's own title
            assert len(widget.options) == len(s.choices) and widget.value in s.choices
