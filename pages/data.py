"""Data: bring labelled images (a zip, class by class, the camera or a sample) and check them."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

from collections.abc import Callable

import pandas as pd
import streamlit as st

from pages import data_classes, data_pool, data_texts, ui
from pages.data_audit import plural, show_audit
from tlcore.studio import (TLError, available_samples, check_trainable, dataset_folder, import_zip, list_datasets,
                           load_sample, open_dataset, open_texts)

SECTIONS = ("Zip of class folders", "Class by class", "Sample dataset", "Earlier datasets", "Unlabelled images",
            "Texts")
# The open section is kept by Streamlit (a keyed, stateful st.tabs): a message appearing above the
# tabs then no longer resets the browser to the first one. Every section is still drawn on each
# run, so an upload in one section survives a look at another.
SECTION = ui.OPT + "data_section"


def render() -> None:
    if ui.is_text(st.session_state.get(ui.DATASET)):  # the title follows the current dataset's kind
        st.title("Your texts")
        st.caption("Bring texts sorted by what they say: one group (class) per kind of text the model should "
                   "tell apart, for example 'complaint', 'praise' and 'question'. Images go in the other sections.")
    else:
        st.title("Your images")
        st.caption("Bring photos sorted by what they show: one group (class) per kind of thing the model "
                   "should recognise, for example 'scratch', 'dent' and 'fine'.")
    zipped, by_class, sample, earlier, unlabelled, texts = st.tabs(SECTIONS, key=SECTION, on_change="rerun")
    with zipped:
        _zip_tab()
    with by_class:
        data_classes.section(use, _progress_bar)
    with sample:
        _sample_tab()
    with earlier:
        _earlier_tab()
    with unlabelled:
        data_pool.section(_progress_bar)
    with texts:
        data_texts.section()
    folder = st.session_state.get(ui.DATASET)
    if folder:
        st.divider()
        with ui.friendly_errors():
            (data_texts.show_text_audit if ui.is_text(folder) else show_audit)(folder)


def _progress_bar(what: str):
    """A progress bar, and the (done, total) callback the engine reports to."""
    bar = st.progress(0.0, text=f"Checking {what}…")
    return lambda done, total: bar.progress(done / max(total, 1), text=f"Checked {done} of {total} {what}")


def use(ds, how: str, then: Callable[[], object] | None = None) -> None:
    """Make ``ds`` the current dataset and say so; a dataset that cannot train only gets the one
    message saying what to fix (no success next to it), and stays out of the way."""
    try:
        check_trainable(ds)
    except TLError as e:
        st.error(ui.md_safe(str(e)), icon=":material/error:")
        return
    st.session_state[ui.DATASET] = dataset_folder(ds)
    if then:
        then()
    ui.done(f"{how}: '{ds.name}' with {plural(len(ds.classes), 'class')} and "
            f"{plural(len(ds.items), 'usable image')}.")


def _zip_tab() -> None:
    st.markdown("A zip with one folder per class (`bolt/1.jpg`, `nut/2.jpg`, …). It may also have "
                "`train/`, `val/` and `test/` folders on top, each holding the class folders.")
    upload = st.file_uploader("Zip file", type=["zip"], help="Folders inside the zip are the class names. "
                              "Files that are not images are skipped and listed below.")
    if upload and st.button("Import this zip", type="primary", help="Unpack, check every image and keep "
                            "the dataset in the workspace, so later runs can use it again."):
        with ui.friendly_errors():
            use(import_zip(upload.getvalue(), upload.name, progress=_progress_bar("images")),
                 "Imported")


def _sample_tab() -> None:
    options = available_samples()
    name = st.selectbox("Sample", list(options), format_func=lambda n: f"{n}: {options[n]}",
                        help="Ready-made labelled images that work without internet; good for a first try.")
    per_class = st.slider("Images per class", 10, 300, 30, step=10,
                          help="More images give a better model but take longer to train.")
    if st.button("Load sample", type="primary", help="Copy the sample into the workspace and check it."):
        with ui.friendly_errors(), st.spinner("Preparing the sample…"):
            use(load_sample(name, per_class), "Loaded")


def _earlier_tab() -> None:
    rows = list_datasets()
    if not rows:
        st.caption("No datasets yet. The ones you import appear here.")
        return
    by_folder = {r["folder"]: r for r in rows}
    table = pd.DataFrame([{"Name": r["name"], "Classes": len(r["classes"]), "Images": r["images"],
                           "Added": ui.when(r["created"])} for r in rows])
    st.dataframe(table, hide_index=True)
    folder = st.selectbox("Dataset", list(by_folder), key="earlier_dataset",
                          help="Datasets you imported before, newest first.",
                          format_func=lambda f: f"{by_folder[f]['name']} ({_count(by_folder[f])})")
    if st.button("Open this dataset", help="Make it the dataset the next run trains on."):
        with ui.friendly_errors():
            if by_folder[folder]["kind"] == "text":
                data_texts.use_texts(open_texts(folder), "Opened")
            else:
                use(open_dataset(folder), "Opened")


def _count(row: dict) -> str:
    """"12 images" or "24 texts": what a stored dataset holds."""
    return plural(row["images"], "text" if row["kind"] == "text" else "image")


if __name__ == "__main__":
    render()
