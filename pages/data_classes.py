"""The Data page's "Class by class" section: type class names, then upload images (or take snapshots) for each."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from pages import data_camera, ui
from pages.data_audit import plural, preview
from tlcore.studio import FEW_IMAGES, class_folders, class_names, import_class_images

CLASS_NAMES = ui.OPT + "class_names"
SLOTS = "class_slots"  # [(name, slot), ...] for the names typed: uploads belong to a slot, so a rename keeps them
NEXT_SLOT = "class_next_slot"
SHOTS = "shots"  # slot -> [(file name, bytes)] of camera snapshots
PREVIEWS = 12  # thumbnails shown under each uploader


def upload_key(slot: int) -> str:
    """The widget key of the uploader of class ``slot`` (stable while the class is renamed)."""
    return f"upload_class_{slot}"


def assign_slots(names: Sequence[str], before: Sequence[tuple[str, int]],
                 next_slot: int) -> tuple[list[tuple[str, int]], int]:
    """Give each class name a slot: a name typed before keeps its slot; a new name takes the slot of
    a name that disappeared in the same edit (a rename), in order; otherwise a new one."""
    kept = dict(before)
    freed = [slot for name, slot in before if name not in names]
    slots = []
    for name in names:
        if name in kept:
            slots.append((name, kept[name]))
        elif freed:
            slots.append((name, freed.pop(0)))
        else:
            slots.append((name, next_slot))
            next_slot += 1
    return slots, next_slot


def section(use: Callable, progress_bar: Callable) -> None:
    """Class names, one uploader per class with thumbnails, the camera and the save button.
    ``use(ds, how, then)`` makes a saved dataset current (running ``then`` first) if it can train;
    ``progress_bar(what)`` draws a bar and returns the engine's progress callback."""
    ss = st.session_state
    ss.setdefault(CLASS_NAMES, "")
    text = st.text_input("Class names, separated by commas", key=CLASS_NAMES,
                         placeholder="e.g. bolt, nut, washer",
                         help="One name per kind of thing the model should tell apart. Renaming a class "
                              "keeps the images you added to it.")
    names = class_names(text)
    with ui.friendly_errors():  # said at once; the uploads stay, and saving refuses until it is fixed
        class_folders(names)
    slots, ss[NEXT_SLOT] = assign_slots(names, ss.get(SLOTS, []), ss.get(NEXT_SLOT, 0))
    ss[SLOTS] = slots
    if not slots:
        st.caption("Type at least two class names to add images to them.")
        return
    shots = ss.setdefault(SHOTS, {})
    uploads = {slot: _uploader(name, slot, shots.get(slot, [])) for name, slot in slots}
    _camera(slots, shots)
    data_camera.section(slots, shots)
    name = st.text_input("Dataset name", value="my images", help="A name to find this dataset again later.")
    if st.button("Save these images as a dataset", type="primary",
                 help="Keep the images in the workspace and check them."):
        files = {c: [(f.name, f.getvalue()) for f in uploads[slot]] + shots.get(slot, []) for c, slot in slots}
        with ui.friendly_errors():
            ds = import_class_images(name, files, progress=progress_bar("images"))
            use(ds, "Saved", then=lambda: ss.pop(SHOTS, None))


def _uploader(name: str, slot: int, shots: list) -> list:
    """The uploader of one class, with thumbnails of what it holds; its files."""
    extra = f" (plus {plural(len(shots), 'snapshot')})" if shots else ""
    files = st.file_uploader(f"Images of '{ui.md_safe(name)}'{extra}", type=ui.IMAGE_TYPES,
                             accept_multiple_files=True, key=upload_key(slot),
                             help=f"Photos that show '{ui.md_safe(name)}'. Aim for {FEW_IMAGES} or more.") or []
    chosen = [f.getvalue() for f in files] + [data for _, data in shots]
    thumbs = [t for t in map(preview, chosen[:PREVIEWS]) if t is not None]
    box = st.container()  # always there: a live camera further down keeps its place (and its stream)
    if thumbs:
        box.image(thumbs, width=ui.THUMB_PX // 3 * 2)
    if len(chosen) > PREVIEWS:
        box.caption(f"and {len(chosen) - PREVIEWS} more")
    return files


def _camera(slots: list[tuple[str, int]], shots: dict) -> None:
    if st.toggle("Take snapshots with the camera", help="Turns the camera on; your browser asks for permission."):
        label = st.selectbox("Class of the next snapshot", [name for name, _ in slots],
                             help="The snapshot is added to this class.")
        slot = dict(slots)[label]
        count = sum(len(v) for v in shots.values())
        photo = st.camera_input("Camera", key=f"camera_{count}",
                                help="Point the camera at one example, take the picture, then add it.")
        if photo and st.button(f"Add this snapshot to '{ui.md_safe(label)}'",
                               help="Keep it and clear the camera."):
            shots.setdefault(slot, []).append((f"snapshot-{count + 1}.jpg", photo.getvalue()))
            st.rerun()
