"""Strategy: how much of the network retrains, for how long, and every setting for experts."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import plotly.graph_objects as go
import streamlit as st

from pages import charts, choices, strategy_inputs, strategy_time, ui
from tlcore.studio import (ModelSpec, Recommendation, RunDir, TLError, ensemble_ready, get_spec, params_text,
                           stage_param_counts, title_of)

OWN_SIZE, SIZE = "image_size_own", "image_size_pixels"  # the image size's two widgets
# Where each advanced setting's widget sits (the model to make shows above, for a frozen network).
COLUMNS = (("epochs", "lr", "backbone_lr_mult", "weight_decay", "warmup_epochs"),
           ("batch_size", "image_size", "augment", "early_stopping", "label_smoothing", "seed"),
           ("evaluation", "val_fraction", "class_weighting", "train_bn", "device", "weights", "test_data"))

IMAGE_ONLY = ("image_size", "augment", "train_bn")  # settings a text run does not have (its encoder has no BatchNorm)
STAGES_HELP = {
    "image": "The network is a chain of stages from the raw image (left) to the answer (right). Frozen stages keep "
             "what they learned from ImageNet; the last N stages adapt to your images. 0 = only a new final layer "
             "learns (fastest, best with few images).",
    "text": "The encoder is a chain of stages from the text's words (embeddings, left) through its 6 layers to the "
            "answer (right). Frozen stages keep what they learned from a large body of English text; the last "
            "N stages adapt to your texts. 0 = only a new final layer learns (fastest, best with few texts).",
}
DURATION_TEXT = {"quick": "Quick look", "standard": "Standard", "thorough": "Thorough"}


@st.cache_data(show_spinner=False)
def _param_counts(name: str) -> tuple[list[int], int]:
    return stage_param_counts(name)


def render() -> None:
    st.title("How much of the network to retrain")
    if not ui.guard(ui.DATASET):
        return
    ss = st.session_state
    choices.restore_choices()
    spec = get_spec(ss[ui.MODEL])
    with st.spinner(ui.worded("Looking at your images with the pretrained model...")):
        rec = choices.recommendation(spec)
    choices.sync_stages(spec, rec)
    suggested = rec.trainable_stages
    with ui.friendly_errors():
        choices.build_config()
    what = ("keep the pretrained network as it is and train only a new last layer"
            if rec.trainable_stages == 0 else f"fine-tune the last {rec.trainable_stages} of {len(spec.stages)} "
            "stages and a new final layer")
    st.info(f"**Recommended: {what}.** {rec.reason}", icon=":material/recommend:")
    st.caption("In machine-learning terms: " + ("feature extraction" if rec.trainable_stages == 0 else "fine-tuning")
               + ("; the score comes from k-fold cross-validation." if rec.evaluation == "cv" else "."))
    if ss.get(choices.DROPPED):
        st.caption(strategy_time.dropped_note(ss[choices.DROPPED]))
    n = st.slider("Train the last N stages", 0, len(spec.stages), key=choices.STAGES,
                  help=STAGES_HELP["text" if ui.is_text(ss[ui.DATASET]) else "image"])
    counts, total = _param_counts(spec.name)
    classes = _classes(spec)
    head = spec.feature_dim * classes + classes
    learning = sum(counts[len(counts) - n:]) + head
    st.plotly_chart(_stages_figure(spec, counts, n, head), config=charts.STATIC)
    times = _times(spec)
    left, right = st.columns(2)
    left.metric("Parameters that will learn", f"{learning:,}",
                help=ui.worded("Learned numbers inside the network that training will change. More means "
                               "the model can adapt further, but needs more images and time."))
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
    if n == 0 and not ui.is_text(ss[ui.DATASET]):  # the most accurate model combines image networks
        strategy_time.recipe_choice(spec, times, list(choices.CHOICES["recipe"]), choices.DEFAULTS["recipe"])
    chosen = choices.recommendation(spec, chosen=n)
    _duration(chosen)
    # Keyed, it keeps its identity and stays open when the controls above it change (the model choice
    # shows only for a frozen network); unkeyed, each such change redrew it closed.
    with st.expander("Advanced settings", key="advanced"):
        _advanced(spec, chosen)
    choices.keep_choices(suggested)
    with ui.friendly_errors():
        choices.build_config()
        st.page_link(ui.page("train"), label="Next: start training", icon=":material/arrow_forward:")


def _stages_figure(spec: ModelSpec, counts: list[int], n: int, head: int) -> go.Figure:
    first = len(spec.stages) - n
    names = [s.name for s in spec.stages] + ["new final layer"]
    learns = [i >= first for i in range(len(spec.stages))] + [True]
    return charts.stages_figure(names, counts + [head], learns,
                                f"{spec.title}, from the {spec.kind} (left) to the answer (right)")


def _classes(spec: ModelSpec) -> int:
    """How many classes the new final layer tells apart."""
    return len(choices.preview(spec).stats.labelled)


def _times(spec: ModelSpec) -> dict | None:
    """The estimated times of the choices here (``strategy_time.plan_times``); None while a setting cannot work."""
    try:
        return strategy_time.plan_times(lambda k, recipe=None: choices.planned(spec, k, recipe), len(spec.stages),
                                        st.session_state[choices.STAGES], choices.opt("recipe"), _ensemble_ready())
    except TLError:
        return None


@st.cache_data(show_spinner=False)
def _ensemble_ready() -> bool:
    return ensemble_ready()


def _duration(rec: Recommendation) -> None:
    ss = st.session_state
    ss.setdefault(choices.DURATION, "standard")
    choice = st.radio("How long to train", list(choices.DURATIONS), key=choices.DURATION, horizontal=True,
                      format_func=DURATION_TEXT.get,
                      help="Quick: a first impression in little time. Standard: the recommended length. "
                           "Thorough: twice as long, sometimes a little better.")
    if ss.get(choices.EPOCHS):
        st.caption(ui.worded(f"Set under Advanced: {ss[choices.EPOCHS]} passes over your images (epochs)."))
    else:
        st.caption(ui.worded(f"{max(2, round(rec.epochs * choices.DURATIONS[choice]))} passes over your images (epochs)."))


def _advanced(spec: ModelSpec, rec: Recommendation) -> None:
    ss = st.session_state
    st.caption("Every setting has a sensible default; change them only if you know why.")
    if ss.get(ui.INIT_FROM):
        st.caption(f"Starting from run {ui.md_safe(title_of(RunDir(ss[ui.INIT_FROM])))} (change this on the Model page).")
    for column, names in zip(st.columns(len(COLUMNS)), COLUMNS):
        with column:
            for name in names:
                _widget(name, spec, rec)


def _widget(name: str, spec: ModelSpec, rec: Recommendation) -> None:
    """The widget of one setting, as TrainConfig describes it, worded for the dataset's kind (a text run has no
    image size, augmentation or BatchNorm)."""
    ss, s, key = st.session_state, choices.SETTINGS[name], ui.OPT + name
    label, help = ui.worded(s.label), ui.worded(s.help)
    if name in IMAGE_ONLY and ui.is_text(ss[ui.DATASET]):
        return
    if name == "epochs":
        ss.setdefault(choices.EPOCHS, 0)
        st.number_input("Epochs (0 = as chosen above)", *choices.NUMBERS["epochs"][1:], step=1, key=choices.EPOCHS,
                        help=help)
        return
    if name == "image_size":
        return _image_size(spec)
    if name == "weights":
        return strategy_inputs.weights_select(spec)
    if name == "test_data":
        return strategy_inputs.test_select()
    ss.setdefault(key, choices.DEFAULTS[name])
    if name == "val_fraction":
        st.slider(label, *choices.NUMBERS[name][1:], step=s.step, key=key, help=help)
    elif s.kind in ("int", "float"):
        st.number_input(label, *choices.NUMBERS[name][1:], step=s.step, key=key, help=help,
                        format="%g" if s.kind == "float" else None)
    elif s.kind == "bool":
        st.checkbox(label, key=key, help=help)
    else:  # the options' words stay the same when the recommendation changes: a selectbox whose
        # shown words change under it can hand back the old words as its value
        extra = f" Recommended for these settings: {rec.augment}." if name == "augment" else ""
        words = {value: ui.worded(shown) for value, shown in s.words().items()}
        st.selectbox(label, list(choices.CHOICES[name]), key=key, format_func=words.get, help=help + extra)


def _image_size(spec: ModelSpec) -> None:
    """The model's own image size, or a size in pixels: two widgets, so no size the run refuses can be
    typed. The setting itself (``opt_image_size``) is written by their callbacks, before the page runs."""
    ss, s, key = st.session_state, choices.SETTINGS["image_size"], ui.OPT + "image_size"
    own = s.also[0]
    ss.setdefault(key, choices.DEFAULTS["image_size"])
    ss.setdefault(OWN_SIZE, ss[key] == own)

    def chosen() -> None:
        ss[key] = own if ss[OWN_SIZE] else ss.get(SIZE, spec.image_size)

    st.checkbox(f"Use {s.also_text} image size", key=OWN_SIZE, on_change=chosen,
                help="The size the model was trained at, or for EfficientNet-Lite1 on a processor 208 pixels "
                     "(about as accurate there, and faster).")
    if not ss[OWN_SIZE]:
        ss.setdefault(SIZE, spec.image_size if ss[key] == own else ss[key])
        st.number_input(s.label, *choices.NUMBERS["image_size"][1:], step=s.step, key=SIZE, on_change=chosen,
                        help=s.help)

if __name__ == "__main__":
    render()
