"""The Strategy page's advanced choices of what a run starts from and is tested on: the starting
weights, and the test images scored once at the end."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import ui
from pages.strategy_time import image_counts
from tlcore.studio import ModelSpec, list_datasets


def weights_options(spec: ModelSpec) -> list[str]:
    """The starting weights a run of ``spec`` can have: ImageNet's, none, or the user's file."""
    own = st.session_state.get(ui.WEIGHTS_FILES, {}).get(spec.name)
    return ["pretrained", "none"] + ([own] if own else [])


def weights_select(spec: ModelSpec) -> None:
    ss, key = st.session_state, ui.OPT + "weights"
    options = weights_options(spec)
    if ss.get(key) not in options:
        ss[key] = "pretrained"
    text = spec.kind == "text"
    names = {"pretrained": "English text (pretrained)" if text else "ImageNet (pretrained)",
             "none": "nothing: train from scratch"}
    st.selectbox("Starting weights", options, key=key, format_func=lambda v: names.get(v, Path(v).name),
                 help=("Pretrained weights are what makes transfer learning work; from scratch needs far more "
                       + ("texts." if text else "images. Upload your own file on the Model page.")))


def test_select() -> None:
    """An extra stored dataset to score at the end; the images' own test folder is always scored."""
    ss, key = st.session_state, ui.OPT + "test_data"
    text = ui.is_text(ss[ui.DATASET])  # a run is tested on data of its own kind
    datasets = {d["folder"]: d for d in list_datasets()
                if d["folder"] != ss[ui.DATASET] and (d.get("kind") == "text") == text}
    own = image_counts(ss[ui.DATASET])[2]
    options = ["", *datasets]
    if ss.get(key) not in options:
        ss[key] = ""
    alone = f"only the {own:,} images in your test folder" if own else "none"
    also = f", with the {own:,} images in your test folder" if own else ""
    st.selectbox(ui.worded("Separate test images"), options, key=key,
                 format_func=lambda f: ui.worded(f"{datasets[f]['name']} ({datasets[f]['images']:,} images{also})"
                                                 if f else alone),
                 help=ui.worded("Images the model never trains on, scored once at the end: the most honest measure "
                                "of how it will do. Your images' own test folder is always used; you can add a "
                                "stored dataset with the same classes."))
