"""The user's choices of how to train, kept in the session: the request they make (``build_config``)
and its Plan (``planned``, from the front door), which the Strategy page previews and the Train
page starts; the settings kept between sessions are restored and saved here."""

from __future__ import annotations

import logging

import streamlit as st

from pages import strategy_inputs, ui
from tlcore.studio import (AUTO, ModelSpec, Plan, Recommendation, TLError, TrainConfig, get_spec, gpu_name,
                           list_datasets, load_choices, plan, resolve_device, save_choices)
from tlcore.studio import settings as described

DURATIONS = {"quick": 0.3, "standard": 1.0, "thorough": 2.0}  # times the recommended epochs
# The settings' widgets, made from TrainConfig's description of each (tlcore.studio.settings).
SETTINGS, ADVANCED, DEFAULTS = described.SETTINGS, described.ADVANCED, described.DEFAULTS
SHOWN_DEFAULTS = {**DEFAULTS, "duration": "standard", "epochs": 0}  # as the widgets start
STAGES, DURATION, EPOCHS = ui.OPT + "stages", ui.OPT + "duration", ui.OPT + "epochs"
# Number settings: (type, lowest, highest) as their widgets allow; epochs 0: as chosen above.
NUMBERS = {**described.NUMBERS, "epochs": (int, 0, described.NUMBERS["epochs"][2])}
CHOICES = {**described.CHOICES, "duration": tuple(DURATIONS)}
KEPT = ("duration", "epochs", *(k for k in ADVANCED if k != "weights"))  # settings kept between sessions
LOADED, SAVED, RESTORED, DROPPED = "choices_loaded", "choices_saved", "choices_restored", "choices_dropped"
_log = logging.getLogger(__name__)


def opt(name: str):
    """The user's value of a TrainConfig setting, or the engine's default."""
    return st.session_state.get(ui.OPT + name, DEFAULTS[name])


def device_type() -> str:
    """Where a run with the settings as they stand computes: "cuda" or "cpu"."""
    return "cuda" if opt("device") != "cpu" and resolve_device("auto").type == "cuda" else "cpu"


def _request(spec: ModelSpec, stages: int | str, epochs: int | None, recipe: str | None) -> TrainConfig:
    """The request with the settings as they stand, ``stages`` trained ("auto": as recommended), for
    ``epochs`` (None: as recommended) and with ``recipe`` (None: as chosen)."""
    advanced = {k: opt(k) for k in ADVANCED}
    if stages:  # the most accurate model is a frozen one; deeper training uses the chosen model
        advanced["recipe"] = AUTO
    if recipe is not None:
        advanced["recipe"] = recipe
    if ui.is_text(st.session_state[ui.DATASET]):  # one model reads texts, which have no augmentation nor BatchNorm
        advanced.update(recipe=AUTO, augment=AUTO, train_bn=False)
    if advanced["weights"] not in strategy_inputs.weights_options(spec):
        advanced["weights"] = "pretrained"
    ss = st.session_state
    return TrainConfig(data=ss[ui.DATASET], model=spec.name, init_from=ss.get(ui.INIT_FROM, ""),
                       trainable_stages=stages, epochs=epochs, **advanced)


def planned(spec: ModelSpec, stages: int | str = AUTO, recipe: str | None = None) -> Plan:
    """The Plan of a run with the settings as they stand, ``stages`` trained ("auto": as recommended)
    and ``recipe`` (None: as chosen), for as long as chosen: the epochs set, else the recommended
    epochs times the duration. The run started from these settings records this Plan."""
    first = plan(_request(spec, stages, opt("epochs") or None, recipe), device_type())
    if opt("epochs"):
        return first
    factor = DURATIONS[st.session_state.get(DURATION, "standard")]
    return plan(_request(spec, stages, max(2, round(first.recommendation.epochs * factor)), recipe), device_type())


def preview(spec: ModelSpec, chosen: int | None = None) -> Plan:
    """The Plan as recommended (or with ``chosen`` stages: the epochs and augmentation that suit that
    depth); with a setting that cannot work, the one the defaults of the other settings give."""
    stages = AUTO if chosen is None else chosen
    try:
        return planned(spec, stages)
    except TLError:
        ss = st.session_state
        request = TrainConfig(data=ss[ui.DATASET], model=spec.name, init_from=ss.get(ui.INIT_FROM, ""),
                              trainable_stages=stages)
        return plan(request, device_type())


def recommendation(spec: ModelSpec, chosen: int | None = None) -> Recommendation:
    """``preview``'s recommendation, with its reasons."""
    return preview(spec, chosen).recommendation


def _valid(name: str, value):
    """A kept setting's value as its widget takes it, or None when it cannot be used (any more)."""
    if value is None:
        return None
    if name in NUMBERS:
        kind, low, high = NUMBERS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
            return None
        value = kind(value)
        fits = (low is None or value >= low) and (high is None or value <= high)
        return value if fits or value in SETTINGS[name].also else None
    if name in CHOICES:
        return value if value in CHOICES[name] and not (value == "cuda" and gpu_name() is None) else None
    if isinstance(DEFAULTS.get(name), bool):
        return value if isinstance(value, bool) else None
    if name == "test_data":  # a stored dataset that is still there
        return value if value in {d["folder"] for d in list_datasets()} else None
    return value if isinstance(value, str) else None


def restore_choices() -> None:
    """Once a session, put the settings kept from earlier sessions into the widgets' state; values
    this session already has win, and a value that no longer fits its widget is left out (and named)."""
    ss = st.session_state
    if ss.get(LOADED):
        return
    ss[LOADED] = True
    kept = load_choices()
    settings = kept.get("settings") if isinstance(kept.get("settings"), dict) else {}
    ss[RESTORED], ss[DROPPED] = {}, []
    for name in KEPT:
        value = _valid(name, settings.get(name))
        if value is None and name in settings:
            ss[DROPPED].append(name)
        elif value is not None and ui.OPT + name not in ss:
            ss[ui.OPT + name] = ss[RESTORED][name] = value
    ss[SAVED] = kept


def _stages_key() -> str:
    ss = st.session_state
    return f"{ss[ui.DATASET]}|{ss[ui.MODEL]}"


def _kept_stages(spec: ModelSpec) -> int | None:
    """The stage count the user chose for this dataset and model in an earlier session."""
    value = (st.session_state.get(SAVED) or {}).get("stages", {})
    value = value.get(_stages_key()) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return min(max(value, 0), len(spec.stages))


def keep_choices(recommended_stages: int) -> None:
    """Keep the settings that differ from the defaults (and the stage count when it differs from
    the recommendation, per dataset and model) for the next session; written only on a change."""
    ss = st.session_state
    old = ss.get(SAVED) or {}
    settings = {name: ss[ui.OPT + name] for name in KEPT
                if ui.OPT + name in ss and ss[ui.OPT + name] != SHOWN_DEFAULTS[name]}
    stages = dict(old.get("stages") or {}) if isinstance(old.get("stages"), dict) else {}
    stages.pop(_stages_key(), None)
    if ss[STAGES] != recommended_stages:
        stages[_stages_key()] = ss[STAGES]
    choices = {"settings": settings, "stages": stages}
    if choices != old:
        try:
            save_choices(choices)
        except (OSError, TLError) as e:  # keeping settings is a convenience: never break the page for it
            _log.warning("Could not keep the settings: %s", e)
        ss[SAVED] = choices


def sync_stages(spec: ModelSpec, rec: Recommendation) -> None:
    """Preselect the user's earlier choice for this dataset and model, else the recommendation,
    whenever the dataset or model changes, or Streamlit dropped the slider's value (it forgets a
    widget's value on a page that does not draw it)."""
    ss = st.session_state
    restore_choices()
    context = (ss[ui.DATASET], spec.name, ss.get(ui.INIT_FROM, ""))
    if ss.get("stages_for") != context or STAGES not in ss:
        kept = _kept_stages(spec)
        ss[STAGES], ss["stages_for"] = rec.trainable_stages if kept is None else kept, context
        ss["stages_kept"] = None if kept is None or kept == rec.trainable_stages else kept


def build_config() -> TrainConfig:
    """The run configuration from the user's choices (raises TLError with what to fix): the request
    of ``planned`` at the chosen depth."""
    ss = st.session_state
    restore_choices()
    spec = get_spec(ss[ui.MODEL])
    sync_stages(spec, recommendation(spec))
    return planned(spec, ss[STAGES]).request
