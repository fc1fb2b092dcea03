"""Strategy: how much of the network retrains, for how long, and every setting for experts."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import plotly.graph_objects as go
import streamlit as st

from pages import charts, choices, strategy_inputs, strategy_time, ui
from tlcore.jobs import runs
from tlcore.models.catalog import ModelSpec, get_spec, params_text
from tlcore.studio import Recommendation, TLError, ensemble_ready, stage_param_counts
from tlcore.rundir import RunDir

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
    with st.spinner("Looking at your images with the pretrained model..."):
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
                                f"{spec.title}, from the image (left) to the answer (right)")


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
        st.caption(f"Set under Advanced: {ss[choices.EPOCHS]} passes over your images (epochs).")
    else:
        st.caption(f"{max(2, round(rec.epochs * choices.DURATIONS[choice]))} passes over your images (epochs).")


def _number(name: str, label: str, help: str, **options) -> None:
    _, low, high = choices.NUMBERS[name]
    st.session_state.setdefault(ui.OPT + name, choices.DEFAULTS[name])
    st.number_input(label, key=ui.OPT + name, help=help, min_value=low, max_value=high, **options)


def _advanced(spec: ModelSpec, rec: Recommendation) -> None:
    ss = st.session_state
    st.caption("Every setting has a sensible default; change them only if you know why.")
    if ss.get(ui.INIT_FROM):
        st.caption(f"Starting from run {ui.md_safe(runs.title_of(RunDir(ss[ui.INIT_FROM])))} (change this on the Model page).")
    a, b, c = st.columns(3)
    with a:
        ss.setdefault(choices.EPOCHS, 0)
        st.number_input("Epochs (0 = as chosen above)", *choices.NUMBERS["epochs"][1:], step=1, key=choices.EPOCHS,
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
        ss.setdefault(ui.OPT + "augment", choices.DEFAULTS["augment"])
        # The option's words stay the same when the choices.recommendation changes: a selectbox whose shown
        # words change under it can hand back the old words as its value.
        st.selectbox("Augmentation", list(choices.CHOICES["augment"]), key=ui.OPT + "augment",
                     format_func=lambda v: "as recommended" if v == "auto" else v,
                     help="Randomly flips, crops and recolours training images so the model learns the "
                          f"object, not the exact photo. Recommended for these settings: {rec.augment}.")
        _number("early_stopping", "Early stopping patience (0 = off)", "Stop when the validation loss has "
                "not improved for this many epochs.", step=1)
        _number("label_smoothing", "Label smoothing", "Teaches the model to be a little less sure, which "
                "often generalises better.", step=0.05, format="%g")
        _number("seed", "Random seed", "The same seed and settings give the same result.", step=1)
    with c:
        ss.setdefault(ui.OPT + "evaluation", choices.DEFAULTS["evaluation"])
        st.selectbox("How the score is measured", list(choices.CHOICES["evaluation"]), key=ui.OPT + "evaluation",
                     format_func={"auto": "as recommended", "cv": "cross-validation (all images train)",
                                  "holdout": "validation split"}.get,
                     help="Cross-validation scores every image with a model trained without it, then trains "
                          "the final model on all of them: best with few images, only with a frozen network. "
                          "A validation split keeps some images aside to check the model.")
        ss.setdefault(ui.OPT + "val_fraction", choices.DEFAULTS["val_fraction"])
        st.slider("Share of images kept for checking (validation)", *choices.NUMBERS["val_fraction"][1:], step=0.05,
                  key=ui.OPT + "val_fraction", help="These images are never trained on; they show how "
                  "well the model does on images it has not seen. Ignored when the data has a val folder.")
        ss.setdefault(ui.OPT + "class_weighting", choices.DEFAULTS["class_weighting"])
        st.checkbox("Balance rare classes", key=ui.OPT + "class_weighting",
                    help="Count mistakes on rare classes more, so they are not ignored.")
        ss.setdefault(ui.OPT + "train_bn", choices.DEFAULTS["train_bn"])
        st.checkbox("Let normalisation layers of frozen stages adapt", key=ui.OPT + "train_bn",
                    help="A light touch on frozen stages (BatchNorm) that often helps when your images "
                         "look unlike everyday photos.")
        ss.setdefault(ui.OPT + "device", choices.DEFAULTS["device"])
        st.selectbox("Device", list(choices.CHOICES["device"]), key=ui.OPT + "device",
                     help="auto uses the graphics card (GPU) when there is one.")
        strategy_inputs.weights_select(spec)
        strategy_inputs.test_select()


if __name__ == "__main__":
    render()
