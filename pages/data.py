"""Data: bring labelled images (a zip, class by class, the camera or a sample) and check them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import ui
from tlcore import samples, store
from tlcore.dataset import FEW_IMAGES, audit, check_trainable
from tlcore.errors import TLError

THUMBS = 6  # thumbnails shown per class
MAX_CLASSES_SHOWN = 30
MAX_SIZE_POINTS = 3000
CLASS_NAMES = ui.OPT + "class_names"


def render() -> None:
    st.title("Your images")
    st.caption("Bring photos sorted by what they show: one group (class) per kind of thing the model "
               "should recognise, for example 'scratch', 'dent' and 'fine'.")
    zipped, by_class, sample, earlier = st.tabs(
        ["Zip of class folders", "Class by class", "Sample dataset", "Earlier datasets"])
    with zipped:
        _zip_tab()
    with by_class:
        _class_tab()
    with sample:
        _sample_tab()
    with earlier:
        _earlier_tab()
    folder = st.session_state.get(ui.DATASET)
    if folder:
        st.divider()
        with ui.friendly_errors():
            _show_audit(folder)


def _progress_bar(what: str):
    """A progress bar, and the (done, total) callback the engine reports to."""
    bar = st.progress(0.0, text=f"Checking {what}…")
    return lambda done, total: bar.progress(done / max(total, 1), text=f"Checked {done} of {total} {what}")


def _use(ds, how: str) -> None:
    st.session_state[ui.DATASET] = store.dataset_folder(ds)
    ui.done(f"{how}: '{ds.name}' with {len(ds.classes)} classes and {len(ds.items)} usable images.")


def _zip_tab() -> None:
    st.markdown("A zip with one folder per class (`bolt/1.jpg`, `nut/2.jpg`, …). It may also have "
                "`train/`, `val/` and `test/` folders on top, each holding the class folders.")
    upload = st.file_uploader("Zip file", type=["zip"], help="Folders inside the zip are the class names. "
                              "Files that are not images are skipped and listed below.")
    if upload and st.button("Import this zip", type="primary", help="Unpack, check every image and keep "
                            "the dataset in the workspace, so later runs can use it again."):
        with ui.friendly_errors():
            _use(store.import_zip(upload.getvalue(), upload.name, progress=_progress_bar("images")),
                 "Imported")


def _class_tab() -> None:
    ss = st.session_state
    ss.setdefault(CLASS_NAMES, "")
    text = st.text_input("Class names, separated by commas", key=CLASS_NAMES,
                         placeholder="e.g. bolt, nut, washer",
                         help="One name per kind of thing the model should tell apart.")
    classes = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not classes:
        st.caption("Type at least two class names to add images to them.")
        return
    shots = ss.setdefault("shots", {})
    uploads = {}
    for c in classes:
        taken = len(shots.get(c, []))
        uploads[c] = st.file_uploader(f"Images of '{ui.md_safe(c)}'" + (f" (plus {taken} snapshots)" if taken else ""),
                                      type=ui.IMAGE_TYPES, accept_multiple_files=True, key=f"upload_{c}",
                                      help=f"Photos that show '{ui.md_safe(c)}'. Aim for {FEW_IMAGES} or more.")
    _camera(classes, shots)
    name = st.text_input("Dataset name", value="my images", help="A name to find this dataset again later.")
    if st.button("Save these images as a dataset", type="primary",
                 help="Keep the images in the workspace and check them."):
        files = {c: [(f.name, f.getvalue()) for f in uploads[c] or []] + shots.get(c, []) for c in classes}
        with ui.friendly_errors():
            ds = store.import_class_images(name, files, progress=_progress_bar("images"))
            ss["shots"] = {}
            _use(ds, "Saved")


def _camera(classes: list[str], shots: dict) -> None:
    if st.toggle("Take snapshots with the camera", help="Turns the camera on; your browser asks for permission."):
        label = st.selectbox("Class of the next snapshot", classes,
                             help="The snapshot is added to this class.")
        count = sum(len(v) for v in shots.values())
        photo = st.camera_input("Camera", key=f"camera_{count}",
                                help="Point the camera at one example, take the picture, then add it.")
        if photo and st.button(f"Add this snapshot to '{ui.md_safe(label)}'", help="Keep it and clear the camera."):
            shots.setdefault(label, []).append((f"snapshot-{count + 1}.jpg", photo.getvalue()))
            st.rerun()


def _sample_tab() -> None:
    options = samples.available_samples()
    name = st.selectbox("Sample", list(options), format_func=lambda n: f"{n}: {options[n]}",
                        help="Ready-made labelled images that work without internet; good for a first try.")
    per_class = st.slider("Images per class", 10, 300, 30, step=10,
                          help="More images give a better model but take longer to train.")
    if st.button("Load sample", type="primary", help="Copy the sample into the workspace and check it."):
        with ui.friendly_errors(), st.spinner("Preparing the sample…"):
            _use(samples.load_sample(name, per_class), "Loaded")


def _earlier_tab() -> None:
    rows = store.list_datasets()
    if not rows:
        st.caption("No datasets yet. The ones you import appear here.")
        return
    by_folder = {r["folder"]: r for r in rows}
    table = pd.DataFrame([{"Name": r["name"], "Classes": len(r["classes"]), "Images": r["images"],
                           "Added": ui.when(r["created"])} for r in rows])
    st.dataframe(table, hide_index=True)
    folder = st.selectbox("Dataset", list(by_folder), help="Datasets you imported before, newest first.",
                          format_func=lambda f: f"{by_folder[f]['name']} ({by_folder[f]['images']} images)")
    if st.button("Open this dataset", help="Make it the dataset the next run trains on."):
        with ui.friendly_errors():
            _use(store.open_dataset(folder), "Opened")


@st.cache_data(show_spinner=False, max_entries=16)
def _audit(folder: str) -> tuple[dict, pd.DataFrame, str]:
    """The engine's audit, one row per image, and what blocks training ("" if nothing)."""
    ds = store.open_dataset(folder)
    items = pd.DataFrame([{"path": i.path, "class": i.label, "width": i.width, "height": i.height}
                          for i in ds.items], columns=["path", "class", "width", "height"])
    try:
        check_trainable(ds)
    except TLError as e:
        return audit(ds), items, str(e)
    return audit(ds), items, ""


def _show_audit(folder: str) -> None:
    report, items, blocker = _audit(folder)
    summary = ui.dataset_summary(folder) or {"name": Path(folder).name}
    st.header(f"Check of '{ui.md_safe(summary['name'])}'")
    a, b, c, d = st.columns(4)
    a.metric("Classes", len(report["counts"]), help="Kinds of things the model will tell apart.")
    b.metric("Usable images", report["total"], help="Images that could be read and sit in a class folder.")
    c.metric("Skipped files", len(report["skipped"]), help="Files left out; the reasons are listed below.")
    d.metric("Exact copies", sum(len(g) - 1 for g in report["duplicates"]),
             help="Images whose contents are identical to another image.")
    if blocker:
        st.error(ui.md_safe(blocker), icon=":material/error:")
    for tip in report["advice"]:
        st.warning(ui.md_safe(tip), icon=":material/lightbulb:")
    if not report["advice"] and not blocker:
        st.success("These images look ready for training.", icon=":material/check_circle:")
    st.plotly_chart(_counts_figure(report["counts"]))
    _thumbnails(items)
    _sizes(items, report["sizes"])
    if report["skipped"]:
        with st.expander(f"Skipped files ({len(report['skipped'])})"):
            st.dataframe(pd.DataFrame(report["skipped"]).rename(columns={"path": "File", "reason": "Why"}),
                         hide_index=True)
    if report["duplicates"]:
        with st.expander(f"Exact copies ({len(report['duplicates'])} groups)"):
            st.dataframe(pd.DataFrame({"Identical files": [", ".join(g) for g in report["duplicates"]]}),
                         hide_index=True)


def _counts_figure(counts: dict):
    rows = [{"class": ui.plot_safe(c), "part": part, "images": n} for c, per in counts.items()
            for part, n in per.items() if part != "total"]
    if not rows:  # no split folders: one bar per class
        rows = [{"class": ui.plot_safe(c), "part": "all", "images": per["total"]} for c, per in counts.items()]
    names = {"train": "training", "val": "validation", "test": "test", "all": "all"}
    df = pd.DataFrame(rows).assign(part=lambda d: d["part"].map(names))
    fig = px.bar(df, x="class", y="images", color="part", title="Images per class",
                 labels={"class": "", "images": "images", "part": ""})
    fig.add_hline(y=FEW_IMAGES, line_dash="dot", annotation_text=f"{FEW_IMAGES} images: a good minimum")
    return fig.update_layout(height=340, margin=dict(t=40, b=10), showlegend=df["part"].nunique() > 1)


def _thumbnails(items: pd.DataFrame) -> None:
    st.subheader("Examples from each class")
    groups = list(items.groupby("class", sort=True))
    if len(groups) > MAX_CLASSES_SHOWN:
        st.caption(f"Showing the first {MAX_CLASSES_SHOWN} of {len(groups)} classes.")
    for label, group in groups[:MAX_CLASSES_SHOWN]:
        thumbs = [t for t in map(ui.thumbnail, group["path"].head(THUMBS)) if t is not None]
        st.markdown(f"**{ui.md_safe(label)}** · {len(group)} images")
        if thumbs:
            st.image(thumbs, width=ui.THUMB_PX)


def _sizes(items: pd.DataFrame, sizes: dict | None) -> None:
    if not sizes:
        return
    st.subheader("Image sizes")
    w, h = sizes["width"], sizes["height"]
    st.caption(f"Width {w['min']}–{w['max']} pixels (typically {w['median']:g}), height {h['min']}–{h['max']} "
               f"(typically {h['median']:g}). The model resizes every image, so sizes may differ; very "
               "small images hold little detail.")
    shown = items.sample(MAX_SIZE_POINTS, random_state=0) if len(items) > MAX_SIZE_POINTS else items
    shown = shown.assign(**{"class": shown["class"].map(ui.plot_safe)})
    fig = px.scatter(shown, x="width", y="height", color="class", opacity=0.6,
                     labels={"width": "width (pixels)", "height": "height (pixels)"})
    st.plotly_chart(fig.update_layout(height=320, margin=dict(t=10, b=10)))


if __name__ == "__main__":
    ui.show(render)
