"""The Strategy page's time estimates: how long each choice should take on this computer before
Start, and the note on choices kept from the last session, with their time."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from pages import ui
from tlcore.studio import AUTO, FASTEST, MOST_ACCURATE, Estimate, ModelSpec, Plan, recipe_costs, split_counts

KEPT_NAMES = {"duration": "how long to train", "epochs": "epochs", "recipe": "model to make", "augment": "augmentation",
              "evaluation": "how the score is measured", "image_size": "image size", "batch_size": "batch size",
              "lr": "learning rate", "device": "device", "test_data": "separate test images"}
KEPT_VALUES = {"most_accurate": "most accurate", "fastest": "fastest", "cv": "cross-validation",
               "holdout": "validation split", "thorough": "thorough", "quick": "quick look"}


@st.cache_data(show_spinner=False, max_entries=32)
def image_counts(folder: str) -> tuple[int, int, int]:
    """A stored dataset's labelled images (or texts), its own validation ones among them, and its test ones."""
    return split_counts(folder)


def plan_times(planned_at: Callable[..., Plan], stages_total: int, stages: int, recipe: str,
               ensemble_ready: bool) -> dict:
    """Each depth's estimated time here ("depths"), the most accurate model's ("accurate", None where it
    cannot be made), the model "as recommended" makes ("auto"), and the times of the settings as
    chosen (``stages``, ``recipe``) and as recommended, from the Plans of those runs:
    ``planned_at(k, recipe=None)`` is the Plan with k stages trained ("auto": as recommended)."""
    plans = {k: planned_at(k) for k in range(stages_total + 1)}
    depths = {k: p.estimate(FASTEST) for k, p in plans.items()}
    frozen = plans[0] if recipe == AUTO else planned_at(0, AUTO)
    cfg = frozen.config
    fresh = cfg.weights == "pretrained" and not cfg.init_from and not frozen.request.image_size and ensemble_ready
    accurate = frozen.estimate(MOST_ACCURATE) if fresh else None
    recommended = planned_at(AUTO, AUTO)
    return {"depths": depths, "accurate": accurate, "auto": cfg.recipe, "chosen": plans[stages].estimate(),
            "recommended": recommended.estimate()}


def times_caption(spec: ModelSpec, by_depth: dict[int, Estimate], accurate: Estimate | None, images: str) -> str:
    """One line: the time of every depth (and of both models for a frozen network) for these images."""
    first = by_depth[0].words() + (" with the fastest model, " + accurate.words() + " with the most accurate"
                                   if accurate is not None else "")
    deeper = [f"{k} stage{'s' * (k != 1)} {e.words()}" for k, e in by_depth.items() if k]
    basis = by_depth[0].basis()
    return (f"Time on this computer for {images} ({basis}): only a new final layer {first}"
            + (f"; {'; '.join(deeper)}" if deeper else "") + ".")


def kept_note(kept: dict, stages: int | None, chosen: Estimate, recommended: Estimate) -> str | None:
    """"Kept from your last session: ..." for the kept settings still in use, with their time."""
    parts = ([f"train the last {stages} stage{'s' * (stages != 1)}" if stages else "only a new final layer"]
             if stages is not None else [])
    parts += [f"{KEPT_NAMES.get(k, k.replace('_', ' '))} {KEPT_VALUES.get(v, v) if isinstance(v, str) else v}"
              for k, v in kept.items() if k != "test_data"] + (["separate test images"] if "test_data" in kept else [])
    if not parts:
        return None
    differs = abs(chosen.seconds - recommended.seconds) > 0.2 * recommended.seconds
    return (f"**Kept from your last session:** {', '.join(parts)}. With these settings training should take "
            f"{chosen.words()} on this computer" + (f" (the recommended settings: {recommended.words()})" if differs
                                                   else "") + ". Change them below to start afresh.")


def dropped_note(names: list[str]) -> str:
    """Which settings kept from the last session no longer fit their widgets, and what is used instead."""
    listed, one = ", ".join(KEPT_NAMES.get(k, k.replace("_", " ")) for k in names), len(names) == 1
    return (f"Not kept from your last session: {listed}; {'its value' if one else 'their values'} could not be "
            f"used here, so {'the default is' if one else 'the defaults are'} used instead.")


def counts_words(folder: str) -> str:
    """"your 90 labelled images (and 100 test images)"."""
    labelled, _, test = image_counts(folder)
    unit = "texts" if ui.is_text(folder) else "images"
    return f"your {labelled:,} labelled {unit}" + (f" and {test:,} test {unit}" if test else "")


def session_kept() -> dict:
    """The settings restored from the last session whose widgets still hold those values."""
    ss = st.session_state
    return {k: v for k, v in (ss.get("choices_restored") or {}).items() if ss.get(ui.OPT + k) == v}


def recipe_choice(spec: ModelSpec, times: dict | None, options: list[str], default: str) -> None:
    """Fastest model or most accurate model, for a frozen network, with what each costs and takes here.
    The options' words stay the same whatever the times (a widget whose words change can lose its value)."""
    costs = recipe_costs(spec.name)
    fast, best = costs[FASTEST], costs[MOST_ACCURATE]
    names = {AUTO: "As recommended for these images on this computer", FASTEST: fast["title"],
             MOST_ACCURATE: best["title"]}
    st.session_state.setdefault(ui.OPT + "recipe", default)
    st.radio("Which model to make", options, key=ui.OPT + "recipe", format_func=names.get,
             help="The most accurate model reads each image with three pretrained networks and learns one "
                  "final layer on what they all see. It is usually a few points more accurate on small "
                  "image sets, and slower to train and to use.")
    took = ""
    if times and times["accurate"] is not None:
        auto = "the most accurate" if times["auto"] == MOST_ACCURATE else "the fastest"
        took = (f" Here the fastest model should take {times['depths'][0].words()} and the most accurate "
                f"{times['accurate'].words()}; as recommended makes {auto}.")
    st.caption(f"Computing per image: {fast['gflops']:g} billion operations for the fastest model, "
               f"{best['gflops']:g} billion for the most accurate ({best['relative_cost']:g}x). As recommended, "
               "the most accurate model is made whenever it should take under 2 minutes here, except on "
               f"greyscale images, where it scored no better in the studio's benchmark.{took}")
