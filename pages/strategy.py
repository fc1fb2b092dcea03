"""Strategy: how much of the network retrains, for how long, and every setting for experts."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import logging

import plotly.graph_objects as go
import streamlit as st

from pages import charts, strategy_inputs, strategy_time, ui
from tlcore import workspace
from tlcore.data import store
from tlcore.jobs import runs
from tlcore.models.catalog import ModelSpec, get_spec, params_text
from tlcore.config import AUTO, TrainConfig
from tlcore.data.dataset import check_trainable
from tlcore.models.freeze import backbone_is_frozen, resolve_trainable
from tlcore.training.devices import gpu_name, resolve_device
from tlcore.models import ensemble
from tlcore.errors import TLError
from tlcore.models.net import stage_param_counts
from tlcore.training.recommend import Recommendation, choose_evaluation, dataset_kind, dataset_naturalness, recommend
from tlcore.training.timing import Estimate
from tlcore.rundir import RunDir
from tlcore.studio import settings

DURATIONS = {"quick": 0.3, "standard": 1.0, "thorough": 2.0}  # times the recommended epochs
DURATION_TEXT = {"quick": "Quick look", "standard": "Standard", "thorough": "Thorough"}
# The settings' widgets, made from TrainConfig's description of each (tlcore.studio.settings).
SETTINGS, ADVANCED, DEFAULTS = settings.SETTINGS, settings.ADVANCED, settings.DEFAULTS
SHOWN_DEFAULTS = {**DEFAULTS, "duration": "standard", "epochs": 0}  # as the widgets start
STAGES, DURATION, EPOCHS = ui.OPT + "stages", ui.OPT + "duration", ui.OPT + "epochs"
OWN_SIZE, SIZE = "image_size_own", "image_size_pixels"  # the image size's two widgets
# Number settings: (type, lowest, highest) as their widgets allow; epochs 0: as chosen above.
NUMBERS = {**settings.NUMBERS, "epochs": (int, 0, settings.NUMBERS["epochs"][2])}
CHOICES = {**settings.CHOICES, "duration": tuple(DURATIONS)}
# Where each advanced setting's widget sits (the model to make shows above, for a frozen network).
COLUMNS = (("epochs", "lr", "backbone_lr_mult", "weight_decay", "warmup_epochs"),
           ("batch_size", "image_size", "augment", "early_stopping", "label_smoothing", "seed"),
           ("evaluation", "val_fraction", "class_weighting", "train_bn", "device", "weights", "test_data"))
KEPT = ("duration", "epochs", *(k for k in ADVANCED if k != "weights"))  # settings kept between sessions
LOADED, SAVED, RESTORED, DROPPED = "choices_loaded", "choices_saved", "choices_restored", "choices_dropped"
_log = logging.getLogger(__name__)


def opt(name: str):
    """The user's value of a TrainConfig setting, or the engine's default."""
    return st.session_state.get(ui.OPT + name, DEFAULTS[name])


@st.cache_data(show_spinner=False, max_entries=32)
def _labelled(folder: str) -> tuple[dict[str, int], bool]:
    """Labelled images per class (test images left out), as the engine's recommender counts them,
    and whether the data brings its own validation images (a TLError if it cannot train)."""
    ds = store.open_dataset(folder)
    check_trainable(ds)
    counts = {c: n - ds.counts("test")[c] for c, n in ds.counts().items()}
    return counts, any(i.split == "val" for i in ds.items)


@st.cache_data(show_spinner=False)
def _param_counts(name: str) -> tuple[list[int], int]:
    return stage_param_counts(name)


@st.cache_data(show_spinner="Looking at your images with the pretrained model...")
def _naturalness(folder: str, model: str, size: int, seed: int) -> float | None:
    return dataset_naturalness(folder, model, size, seed)


def _natural(spec: ModelSpec, gpu: bool) -> float | None:
    """The pretrained model's confidence on the images, as the run will measure it: the same images
    (its seed's), at the size it will read them; None from an earlier run or with a setting that cannot work."""
    if st.session_state.get(ui.INIT_FROM):
        return None
    try:
        cfg = TrainConfig(data=st.session_state[ui.DATASET], model=spec.name, image_size=opt("image_size"))
    except TLError:
        return None
    return _naturalness(cfg.data, spec.name, runs.image_size_for(cfg, "cuda" if gpu else "cpu"), opt("seed"))


def recommendation(spec: ModelSpec, chosen: int | None = None) -> Recommendation:
    """The engine's advice for the current dataset and model; with ``chosen`` stages, the epochs and
    augmentation that suit that depth, as the engine decides them when the run starts."""
    counts, _ = _labelled(st.session_state[ui.DATASET])
    gpu = opt("device") != "cpu" and resolve_device("auto").type == "cuda"
    return recommend(counts, _natural(spec, gpu), len(spec.stages), gpu=gpu, chosen_stages=chosen)


def evaluation(cfg: TrainConfig, spec: ModelSpec, rec: Recommendation) -> Recommendation:
    """The recommendation with how the score will be estimated for the settings as they stand."""
    counts, given_val = _labelled(cfg.data)
    stages = resolve_trainable(cfg.trainable_stages, len(spec.stages))
    frozen = backbone_is_frozen(spec, stages, cfg.train_bn)
    return choose_evaluation(rec, cfg, frozen, counts, given_val)


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
    """The run configuration from the user's choices (raises TLError with what to fix)."""
    ss = st.session_state
    _restore_choices()
    spec = get_spec(ss[ui.MODEL])
    _sync_stages(spec, recommendation(spec))
    rec = recommendation(spec, chosen=ss[STAGES])
    epochs = opt("epochs") or max(2, round(rec.epochs * DURATIONS[ss.get(DURATION, "standard")]))
    advanced = {k: opt(k) for k in ADVANCED}
    if ss[STAGES]:  # the most accurate model is a frozen one; deeper training uses the chosen model
        advanced["recipe"] = AUTO
    if advanced["weights"] not in strategy_inputs.weights_options(spec):
        advanced["weights"] = "pretrained"
    return TrainConfig(data=ss[ui.DATASET], model=spec.name, init_from=ss.get(ui.INIT_FROM, ""),
                       trainable_stages=ss[STAGES], epochs=epochs, **advanced)


def render() -> None:
    st.title("How much of the network to retrain")
    if not ui.guard(ui.DATASET):
        return
    ss = st.session_state
    _restore_choices()
    spec = get_spec(ss[ui.MODEL])
    rec = recommendation(spec)
    _sync_stages(spec, rec)
    suggested = rec.trainable_stages
    with ui.friendly_errors():
        rec = evaluation(build_config(), spec, rec)
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
    classes = len(_labelled(ss[ui.DATASET])[0])
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


def _times(spec: ModelSpec) -> dict | None:
    """The estimated times of the choices here (``strategy_time.plan_times``); None while a setting cannot work."""
    try:
        cfg = build_config()
        base = evaluation(cfg.with_(trainable_stages=0, recipe=AUTO), spec, recommendation(spec, chosen=0))
    except TLError:
        return None
    device = "cuda" if opt("device") != "cpu" and resolve_device("auto").type == "cuda" else "cpu"
    factor = DURATIONS[st.session_state.get(DURATION, "standard")]
    epochs = lambda rec: opt("epochs") or max(2, round(rec.epochs * factor))
    return strategy_time.plan_times(cfg, spec, lambda k: recommendation(spec, chosen=k), base, _labelled(cfg.data)[0],
                                    epochs, device, _ensemble_ready(), st.session_state[STAGES], opt("recipe"),
                                    _kind(cfg.data))


def estimated_time() -> Estimate | None:
    """How long a run with the settings as chosen should take here (None while a setting cannot work)."""
    times = _times(get_spec(st.session_state[ui.MODEL]))
    return times["chosen"] if times else None


@st.cache_data(show_spinner=False)
def _ensemble_ready() -> bool:
    return ensemble.ready()


@st.cache_data(show_spinner=False, max_entries=32)
def _kind(folder: str) -> str:
    return dataset_kind(folder)


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


def _advanced(spec: ModelSpec, rec: Recommendation) -> None:
    ss = st.session_state
    st.caption("Every setting has a sensible default; change them only if you know why.")
    if ss.get(ui.INIT_FROM):
        st.caption(f"Starting from run {ui.md_safe(runs.title_of(RunDir(ss[ui.INIT_FROM])))} (change this on the Model page).")
    for column, names in zip(st.columns(len(COLUMNS)), COLUMNS):
        with column:
            for name in names:
                _widget(name, spec, rec)


def _widget(name: str, spec: ModelSpec, rec: Recommendation) -> None:
    """The widget of one setting, as TrainConfig describes it."""
    ss, s, key = st.session_state, SETTINGS[name], ui.OPT + name
    if name == "epochs":
        ss.setdefault(EPOCHS, 0)
        st.number_input("Epochs (0 = as chosen above)", *NUMBERS["epochs"][1:], step=1, key=EPOCHS, help=s.help)
        return
    if name == "image_size":
        return _image_size(spec)
    if name == "weights":
        return strategy_inputs.weights_select(spec)
    if name == "test_data":
        return strategy_inputs.test_select()
    ss.setdefault(key, DEFAULTS[name])
    if name == "val_fraction":
        st.slider(s.label, *NUMBERS[name][1:], step=s.step, key=key, help=s.help)
    elif s.kind in ("int", "float"):
        st.number_input(s.label, *NUMBERS[name][1:], step=s.step, key=key, help=s.help,
                        format="%g" if s.kind == "float" else None)
    elif s.kind == "bool":
        st.checkbox(s.label, key=key, help=s.help)
    else:  # the options' words stay the same when the recommendation changes: a selectbox whose
        # shown words change under it can hand back the old words as its value
        extra = f" Recommended for these settings: {rec.augment}." if name == "augment" else ""
        st.selectbox(s.label, list(CHOICES[name]), key=key, format_func=s.words().get, help=s.help + extra)


def _image_size(spec: ModelSpec) -> None:
    """The model's own image size, or a size in pixels: two widgets, so no size the run refuses can be
    typed. The setting itself (``opt_image_size``) is written by their callbacks, before the page runs."""
    ss, s, key = st.session_state, SETTINGS["image_size"], ui.OPT + "image_size"
    own = s.also[0]
    ss.setdefault(key, DEFAULTS["image_size"])
    ss.setdefault(OWN_SIZE, ss[key] == own)

    def chosen() -> None:
        ss[key] = own if ss[OWN_SIZE] else ss.get(SIZE, spec.image_size)

    st.checkbox(f"Use {s.also_text} image size", key=OWN_SIZE, on_change=chosen,
                help="The size the model was trained at, or for EfficientNet-Lite1 on a processor 208 pixels "
                     "(about as accurate there, and faster).")
    if not ss[OWN_SIZE]:
        ss.setdefault(SIZE, spec.image_size if ss[key] == own else ss[key])
        st.number_input(s.label, *NUMBERS["image_size"][1:], step=s.step, key=SIZE, on_change=chosen, help=s.help)

if __name__ == "__main__":
    render()
