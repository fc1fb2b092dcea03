"""Strategy: how much of the network retrains, for how long, and every setting for experts."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import logging
from dataclasses import MISSING, fields

import plotly.graph_objects as go
import streamlit as st

from pages import charts, strategy_inputs, strategy_time, ui
from tlcore import workspace
from tlcore.data import store
from tlcore.jobs import runs
from tlcore.models.catalog import ModelSpec, get_spec, params_text
from tlcore.config import AUTO, FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.training.devices import gpu_name, resolve_device
from tlcore.models import ensemble
from tlcore.models.net import stage_param_counts
from tlcore.studio import Plan, TLError, plan
from tlcore.training.recommend import Recommendation
from tlcore.rundir import RunDir

DURATIONS = {"quick": 0.3, "standard": 1.0, "thorough": 2.0}  # times the recommended epochs
DURATION_TEXT = {"quick": "Quick look", "standard": "Standard", "thorough": "Thorough"}
ADVANCED = ("recipe", "weights", "test_data", "train_bn", "batch_size", "lr", "backbone_lr_mult", "weight_decay",
            "warmup_epochs", "augment", "early_stopping", "class_weighting", "label_smoothing",
            "image_size", "val_fraction", "evaluation", "seed", "device")
DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
SHOWN_DEFAULTS = {**DEFAULTS, "duration": "standard", "epochs": 0}  # as the widgets start
STAGES, DURATION, EPOCHS = ui.OPT + "stages", ui.OPT + "duration", ui.OPT + "epochs"
# Number settings: (type, lowest, highest) as their widgets allow; None: no bound.
NUMBERS = {"epochs": (int, 0, 1000), "lr": (float, 1e-6, 1.0), "backbone_lr_mult": (float, 0.0, 10.0),
           "weight_decay": (float, 0.0, 1.0), "warmup_epochs": (float, 0.0, 100.0), "batch_size": (int, 1, 4096),
           "image_size": (int, 0, 1024), "early_stopping": (int, 0, 1000), "label_smoothing": (float, 0.0, 0.9),
           "seed": (int, 0, 2**53 - 1), "val_fraction": (float, 0.05, 0.5)}  # a browser's largest whole number
CHOICES = {"augment": ("auto", "none", "light", "strong"), "evaluation": ("auto", "cv", "holdout"),
           "device": ("auto", "cpu", "cuda"), "duration": tuple(DURATIONS), "recipe": (AUTO, FASTEST, MOST_ACCURATE)}
KEPT = ("duration", "epochs", *(k for k in ADVANCED if k != "weights"))  # settings kept between sessions
LOADED, SAVED, RESTORED, DROPPED = "choices_loaded", "choices_saved", "choices_restored", "choices_dropped"
_log = logging.getLogger(__name__)


def opt(name: str):
    """The user's value of a TrainConfig setting, or the engine's default."""
    return st.session_state.get(ui.OPT + name, DEFAULTS[name])


@st.cache_data(show_spinner=False)
def _param_counts(name: str) -> tuple[list[int], int]:
    return stage_param_counts(name)


def _device() -> str:
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
    if advanced["weights"] not in strategy_inputs.weights_options(spec):
        advanced["weights"] = "pretrained"
    ss = st.session_state
    return TrainConfig(data=ss[ui.DATASET], model=spec.name, init_from=ss.get(ui.INIT_FROM, ""),
                       trainable_stages=stages, epochs=epochs, **advanced)


def planned(spec: ModelSpec, stages: int | str = AUTO, recipe: str | None = None) -> Plan:
    """The Plan of a run with the settings as they stand, ``stages`` trained ("auto": as recommended)
    and ``recipe`` (None: as chosen), for as long as chosen: the epochs set, else the recommended
    epochs times the duration. The run started from these settings records this Plan."""
    first = plan(_request(spec, stages, opt("epochs") or None, recipe), _device())
    if opt("epochs"):
        return first
    factor = DURATIONS[st.session_state.get(DURATION, "standard")]
    return plan(_request(spec, stages, max(2, round(first.recommendation.epochs * factor)), recipe), _device())


def recommendation(spec: ModelSpec, chosen: int | None = None) -> Recommendation:
    """The Plan's recommendation for the current dataset and model, as recommended (or with
    ``chosen`` stages: the epochs and augmentation that suit that depth). With a setting that cannot
    work, the one the defaults of the other settings give."""
    stages = AUTO if chosen is None else chosen
    try:
        return planned(spec, stages).recommendation
    except TLError:
        ss = st.session_state
        request = TrainConfig(data=ss[ui.DATASET], model=spec.name, init_from=ss.get(ui.INIT_FROM, ""),
                              trainable_stages=stages)
        return plan(request, _device()).recommendation


def _valid(name: str, value):
    """A kept setting's value as its widget takes it, or None when it cannot be used (any more)."""
    if value is None:
        return None
    if name in NUMBERS:
        kind, low, high = NUMBERS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
            return None
        value = kind(value)
        return value if (low is None or value >= low) and (high is None or value <= high) else None
    if name in CHOICES:
        return value if value in CHOICES[name] and not (value == "cuda" and gpu_name() is None) else None
    if isinstance(DEFAULTS.get(name), bool):
        return value if isinstance(value, bool) else None
    if name == "test_data":  # a stored dataset that is still there
        return value if value in {d["folder"] for d in store.list_datasets()} else None
    return value if isinstance(value, str) else None


def _restore_choices() -> None:
    """Once a session, put the settings kept from earlier sessions into the widgets' state; values
    this session already has win, and a value that no longer fits its widget is left out (and named)."""
    ss = st.session_state
    if ss.get(LOADED):
        return
    ss[LOADED] = True
    kept = workspace.load_choices()
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


def _save_choices(recommended_stages: int) -> None:
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
            workspace.save_choices(choices)
        except (OSError, TLError) as e:  # keeping settings is a convenience: never break the page for it
            _log.warning("Could not keep the settings: %s", e)
        ss[SAVED] = choices


def _sync_stages(spec: ModelSpec, rec: Recommendation) -> None:
    """Preselect the user's earlier choice for this dataset and model, else the recommendation,
    whenever the dataset or model changes, or Streamlit dropped the slider's value (it forgets a
    widget's value on a page that does not draw it)."""
    ss = st.session_state
    _restore_choices()
    context = (ss[ui.DATASET], spec.name, ss.get(ui.INIT_FROM, ""))
    if ss.get("stages_for") != context or STAGES not in ss:
        kept = _kept_stages(spec)
        ss[STAGES], ss["stages_for"] = rec.trainable_stages if kept is None else kept, context
        ss["stages_kept"] = None if kept is None or kept == rec.trainable_stages else kept


def build_config() -> TrainConfig:
    """The run configuration from the user's choices (raises TLError with what to fix): the request
    of ``planned`` at the chosen depth."""
    ss = st.session_state
    _restore_choices()
    spec = get_spec(ss[ui.MODEL])
    _sync_stages(spec, recommendation(spec))
    return planned(spec, ss[STAGES]).request


def render() -> None:
    st.title("How much of the network to retrain")
    if not ui.guard(ui.DATASET):
        return
    ss = st.session_state
    _restore_choices()
    spec = get_spec(ss[ui.MODEL])
    with st.spinner("Looking at your images with the pretrained model..."):
        rec = recommendation(spec)
    _sync_stages(spec, rec)
    suggested = rec.trainable_stages
    with ui.friendly_errors():
        build_config()
    what = ("keep the pretrained network as it is and train only a new last layer"
            if rec.trainable_stages == 0 else f"fine-tune the last {rec.trainable_stages} of {len(spec.stages)} "
            "stages and a new final layer")
    st.info(f"**Recommended: {what}.** {rec.reason}", icon=":material/recommend:")
    st.caption("In machine-learning terms: " + ("feature extraction" if rec.trainable_stages == 0 else "fine-tuning")
               + ("; the score comes from k-fold cross-validation." if rec.evaluation == "cv" else "."))
    if ss.get(DROPPED):
        st.caption(strategy_time.dropped_note(ss[DROPPED]))
    n = st.slider("Train the last N stages", 0, len(spec.stages), key=STAGES,
                  help="The network is a chain of stages from the raw image (left) to the answer (right). "
                       "Frozen stages keep what they learned from ImageNet; the last N stages adapt to your "
                       "images. 0 = only a new final layer learns (fastest, best with few images).")
    counts, total = _param_counts(spec.name)
    classes = _classes(spec)
    head = spec.feature_dim * classes + classes
    learning = sum(counts[len(counts) - n:]) + head
    st.plotly_chart(_stages_figure(spec, counts, n, head), config=charts.STATIC)
    times = _times(spec)
    left, right = st.columns(2)
    left.metric("Parameters that will learn", f"{learning:,}",
                help="Learned numbers inside the network that training will change. More means the model "
                     "can adapt further, but needs more images and time.")
    left.caption(f"{learning / (total + head):.1%} of the {params_text(total + head)} parameters; the rest stay frozen.")
    if times:
        right.metric("Training time on this computer", times["chosen"].words(), help=times["chosen"].basis())
        st.caption(strategy_time.times_caption(spec, times["depths"], times["accurate"],
                                               strategy_time.counts_words(ss[ui.DATASET])))
        kept = strategy_time.session_kept()
        note = strategy_time.kept_note(kept, n if ss.get("stages_kept") == n else None, times["chosen"],
                                       times["recommended"])
        if note:
            st.info(note, icon=":material/history:")
    if n == 0:
        strategy_time.recipe_choice(spec, times, list(CHOICES["recipe"]), DEFAULTS["recipe"])
    chosen = recommendation(spec, chosen=n)
    _duration(chosen)
    # Keyed, it keeps its identity and stays open when the controls above it change (the model choice
    # shows only for a frozen network); unkeyed, each such change redrew it closed.
    with st.expander("Advanced settings", key="advanced"):
        _advanced(spec, chosen)
    _save_choices(suggested)
    with ui.friendly_errors():
        build_config()
        st.page_link(ui.page("train"), label="Next: start training", icon=":material/arrow_forward:")


def _stages_figure(spec: ModelSpec, counts: list[int], n: int, head: int) -> go.Figure:
    first = len(spec.stages) - n
    names = [s.name for s in spec.stages] + ["new final layer"]
    learns = [i >= first for i in range(len(spec.stages))] + [True]
    return charts.stages_figure(names, counts + [head], learns,
                                f"{spec.title}, from the image (left) to the answer (right)")


def _classes(spec: ModelSpec) -> int:
    """How many classes the new final layer tells apart."""
    try:
        return len(planned(spec).stats.labelled)
    except TLError:
        return len(plan(TrainConfig(data=st.session_state[ui.DATASET], model=spec.name), _device()).stats.labelled)


def _times(spec: ModelSpec) -> dict | None:
    """The estimated times of the choices here (``strategy_time.plan_times``); None while a setting cannot work."""
    try:
        return strategy_time.plan_times(lambda k, recipe=None: planned(spec, k, recipe), len(spec.stages),
                                        st.session_state[STAGES], opt("recipe"), _ensemble_ready())
    except TLError:
        return None


@st.cache_data(show_spinner=False)
def _ensemble_ready() -> bool:
    return ensemble.ready()


def _duration(rec: Recommendation) -> None:
    ss = st.session_state
    ss.setdefault(DURATION, "standard")
    choice = st.radio("How long to train", list(DURATIONS), key=DURATION, horizontal=True,
                      format_func=DURATION_TEXT.get,
                      help="Quick: a first impression in little time. Standard: the recommended length. "
                           "Thorough: twice as long, sometimes a little better.")
    if ss.get(EPOCHS):
        st.caption(f"Set under Advanced: {ss[EPOCHS]} passes over your images (epochs).")
    else:
        st.caption(f"{max(2, round(rec.epochs * DURATIONS[choice]))} passes over your images (epochs).")


def _number(name: str, label: str, help: str, **options) -> None:
    _, low, high = NUMBERS[name]
    st.session_state.setdefault(ui.OPT + name, DEFAULTS[name])
    st.number_input(label, key=ui.OPT + name, help=help, min_value=low, max_value=high, **options)


def _advanced(spec: ModelSpec, rec: Recommendation) -> None:
    ss = st.session_state
    st.caption("Every setting has a sensible default; change them only if you know why.")
    if ss.get(ui.INIT_FROM):
        st.caption(f"Starting from run {ui.md_safe(runs.title_of(RunDir(ss[ui.INIT_FROM])))} (change this on the Model page).")
    a, b, c = st.columns(3)
    with a:
        ss.setdefault(EPOCHS, 0)
        st.number_input("Epochs (0 = as chosen above)", *NUMBERS["epochs"][1:], step=1, key=EPOCHS,
                        help="How many times training goes through all your images.")
        _number("lr", "Learning rate", "How big each learning step is for the new final layer.",
                step=1e-4, format="%g")
        _number("backbone_lr_mult", "Learning-rate factor for pretrained stages",
                "Pretrained stages learn this many times slower than the new layer, so they keep what "
                "they know.", step=0.05, format="%g")
        _number("weight_decay", "Weight decay", "A gentle pull towards small weights that reduces "
                "memorising.", step=1e-4, format="%g")
        _number("warmup_epochs", "Warm-up epochs", "Epochs at the start with a slowly rising step size.",
                step=0.5, format="%g")
    with b:
        _number("batch_size", "Batch size", "Images processed together in one step; lower it if the "
                "computer runs out of memory.", step=1)
        _number("image_size", "Image size in pixels (0 = the model's own)", "Images are resized to this "
                "square; smaller is faster, larger keeps detail. 0 uses the size the model was trained at, or "
                "for EfficientNet-Lite1 on a processor 208 pixels (about as accurate there, and faster).", step=16)
        ss.setdefault(ui.OPT + "augment", DEFAULTS["augment"])
        # The option's words stay the same when the recommendation changes: a selectbox whose shown
        # words change under it can hand back the old words as its value.
        st.selectbox("Augmentation", list(CHOICES["augment"]), key=ui.OPT + "augment",
                     format_func=lambda v: "as recommended" if v == "auto" else v,
                     help="Randomly flips, crops and recolours training images so the model learns the "
                          f"object, not the exact photo. Recommended for these settings: {rec.augment}.")
        _number("early_stopping", "Early stopping patience (0 = off)", "Stop when the validation loss has "
                "not improved for this many epochs.", step=1)
        _number("label_smoothing", "Label smoothing", "Teaches the model to be a little less sure, which "
                "often generalises better.", step=0.05, format="%g")
        _number("seed", "Random seed", "The same seed and settings give the same result.", step=1)
    with c:
        ss.setdefault(ui.OPT + "evaluation", DEFAULTS["evaluation"])
        st.selectbox("How the score is measured", list(CHOICES["evaluation"]), key=ui.OPT + "evaluation",
                     format_func={"auto": "as recommended", "cv": "cross-validation (all images train)",
                                  "holdout": "validation split"}.get,
                     help="Cross-validation scores every image with a model trained without it, then trains "
                          "the final model on all of them: best with few images, only with a frozen network. "
                          "A validation split keeps some images aside to check the model.")
        ss.setdefault(ui.OPT + "val_fraction", DEFAULTS["val_fraction"])
        st.slider("Share of images kept for checking (validation)", *NUMBERS["val_fraction"][1:], step=0.05,
                  key=ui.OPT + "val_fraction", help="These images are never trained on; they show how "
                  "well the model does on images it has not seen. Ignored when the data has a val folder.")
        ss.setdefault(ui.OPT + "class_weighting", DEFAULTS["class_weighting"])
        st.checkbox("Balance rare classes", key=ui.OPT + "class_weighting",
                    help="Count mistakes on rare classes more, so they are not ignored.")
        ss.setdefault(ui.OPT + "train_bn", DEFAULTS["train_bn"])
        st.checkbox("Let normalisation layers of frozen stages adapt", key=ui.OPT + "train_bn",
                    help="A light touch on frozen stages (BatchNorm) that often helps when your images "
                         "look unlike everyday photos.")
        ss.setdefault(ui.OPT + "device", DEFAULTS["device"])
        st.selectbox("Device", list(CHOICES["device"]), key=ui.OPT + "device",
                     help="auto uses the graphics card (GPU) when there is one.")
        strategy_inputs.weights_select(spec)
        strategy_inputs.test_select()


if __name__ == "__main__":
    render()
