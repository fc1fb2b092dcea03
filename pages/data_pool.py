"""The Data page's "Unlabelled images" section: a zip, image files or a camera burst, without class
folders, join the current dataset's pool, which the Label page turns into labels."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from pages import data_camera, ui
from pages.data_audit import plural
from pages.nav import page
from tlcore.studio import add_uploads_to_pool, pool_state

UPLOAD = "pool_upload"
SHOTS = "pool_shots"  # {folder: {"pool": [(file name, JPEG bytes)]}}: camera pictures not yet in that pool
FIRST = ("Unlabelled images join a dataset that has a few labelled images of each class: import or open one "
         "first (above), then add the rest here.")


def section(progress_bar: Callable) -> None:
    """The pool of the current image dataset: how many it holds, the upload, and the way to the Label page.
    ``progress_bar(what)`` draws a bar and returns the engine's progress callback."""
    folder = st.session_state.get(ui.DATASET)
    if not folder or ui.is_text(folder):
        st.caption(FIRST)
        return
    st.markdown("Photos nobody has sorted yet: a zip (with or without folders), the image files themselves, or a "
                "burst from the camera. They wait in the dataset's unlabelled pool; on the Label page the model "
                "suggests their classes.")
    with ui.friendly_errors():
        _pool_count(folder)
        files = st.file_uploader("Unlabelled images (a zip or image files)", type=["zip", *ui.IMAGE_TYPES],
                                 accept_multiple_files=True, key=UPLOAD,
                                 help="No class folders needed. Copies of images already labelled are left out.")
        if files and st.button("Add to the unlabelled pool", type="primary", key="pool_add",
                               help="Check every image and keep it with the dataset, waiting for a label."):
            added = add_uploads_to_pool(folder, [(f.name, f.getvalue()) for f in files],
                                        progress=progress_bar("images"))
            ui.done(added["message"])
        _camera(folder, progress_bar)


def _pool_count(folder: str) -> None:
    pool = pool_state(folder)
    summary = ui.dataset_summary(folder) or {"name": "this dataset"}
    if pool["images"]:
        st.markdown(f"The unlabelled pool of '{ui.md_safe(summary['name'])}' holds "
                    f"{plural(pool['images'], 'image')}.")
        st.page_link(page("label"), label="Label them with the model", icon=":material/arrow_forward:")
    else:
        st.caption(f"The unlabelled pool of '{ui.md_safe(summary['name'])}' is empty.")


def _camera(folder: str, progress_bar: Callable) -> None:
    """A burst of camera pictures into the pool: recorded, looked over (bad ones removed), then added."""
    shots = st.session_state.setdefault(SHOTS, {}).setdefault(folder, {})
    data_camera.section([("unlabelled", "pool")], shots, key="pool_burst")
    kept = shots.get("pool", [])
    if kept and st.button(f"Add the {plural(len(kept), 'camera picture')} to the unlabelled pool", type="primary",
                          key="pool_add_camera", help="Check every picture and keep it with the dataset, "
                                                      "waiting for a label."):
        added = add_uploads_to_pool(folder, kept, progress=progress_bar("images"))
        shots.pop("pool", None)
        ui.done(added["message"])
