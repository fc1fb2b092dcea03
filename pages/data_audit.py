"""The Data page's check of a stored dataset: counts, examples, sizes, skipped files and copies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st
from PIL import Image, ImageOps

from pages import ui
from tlcore.studio import FEW_IMAGES, audit_dataset, picture, remove_blank, remove_copies

THUMBS = 6  # thumbnails shown per class
MAX_CLASSES_SHOWN = 30
MAX_SIZE_POINTS = 3000


def plural(n: int, word: str) -> str:
    """"1 class", "2 classes", "3 images"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


def square(img: Image.Image | None) -> Image.Image | None:
    """``img`` shrunk and centred on a faint THUMB_PX square, so every thumbnail has one height
    (the faint grey shows on light and dark themes alike)."""
    if img is None:
        return None
    return ImageOps.pad(img.convert("RGBA"), (ui.THUMB_PX, ui.THUMB_PX), color=(128, 128, 128, 40))


@st.cache_data(show_spinner=False, max_entries=500)
def preview(data: bytes) -> Image.Image | None:
    """A square thumbnail of an image file's bytes (e.g. an upload), or None if it cannot be read."""
    return square(picture(data, ui.THUMB_PX))


@st.cache_data(show_spinner=False, max_entries=16)
def _audit(folder: str) -> tuple[dict, pd.DataFrame, str]:
    """The engine's audit, one row per image, and what blocks training ("" if nothing)."""
    report, rows, blocker = audit_dataset(folder)
    return report, pd.DataFrame(rows, columns=["path", "class", "width", "height"]), blocker


def changed() -> None:
    """Forget the kept checks and counts after a dataset's images changed (labelled, taken back)."""
    _audit.clear()
    ui.dataset_summary.clear()


def show_audit(folder: str) -> None:
    """Draw the check of the stored dataset in ``folder``."""
    summary = ui.dataset_summary(folder) or {"name": Path(folder).name}
    st.header(f"Check of '{ui.md_safe(summary['name'])}'")
    with st.spinner(f"Checking {plural(summary.get('images', 0), 'image')} (once per dataset and restart)…",
                    show_time=True):
        report, items, blocker = _audit(folder)
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
    for split, copies in report["copies_of_training"].items():
        _copies_of_training(folder, split, copies)
    if report["blank"]:
        _blank(folder, report["blank"], Path(report["root"]))
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


def _copies_of_training(folder: str, split: str, copies: list[dict]) -> None:
    """The held-out images that copy training images, and the one click that takes them out."""
    words = "test" if split == "test" else "validation"
    with st.expander(f"{words.capitalize()} images that copy training images ({len(copies)})"):
        st.dataframe(pd.DataFrame([{"Copy": c["path"], "Of the training image": c["of"],
                                    "How": "same file" if c["exact"] else "same picture"} for c in copies]),
                     hide_index=True)
    label = f"Remove {'the copy' if len(copies) == 1 else f'the {len(copies)} copies'} from the {words} images"
    if st.button(label, key=f"remove_copies_{split}", help="Only these images leave the dataset; the training "
                 "images they copy stay. Runs trained before keep their own record."):
        with ui.friendly_errors():
            remove_copies(folder, split)
            _audit.clear()
            ui.dataset_summary.clear()
            st.rerun()


def _blank(folder: str, blank: list[str], root: Path) -> None:
    """The blank and near-blank images, and the one click that leaves them out."""
    with st.expander(f"Blank or nearly blank images ({len(blank)})"):
        st.caption("One colour, or fully transparent (shown on white): their colours vary by less than 2 "
                   "levels of 255 once the picture is shrunk to 32 pixels a side.")
        thumbs = [(square(ui.thumbnail(str(root / p))), Path(p).name) for p in blank[:THUMBS * 2]]
        shown = [(t, name) for t, name in thumbs if t is not None]
        if shown:
            st.image([t for t, _ in shown], width=ui.THUMB_PX, caption=[name for _, name in shown])
        st.dataframe(pd.DataFrame({"Blank image": blank}), hide_index=True)
    label = f"Leave out {'the blank image' if len(blank) == 1 else f'the {len(blank)} blank images'}"
    if st.button(label, key="remove_blank", help="Only these images leave the dataset. Runs trained before keep "
                 "their own record."):
        with ui.friendly_errors():
            remove_blank(folder)
            _audit.clear()
            ui.dataset_summary.clear()
            st.rerun()


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
        thumbs = [t for t in (square(ui.thumbnail(p)) for p in group["path"].head(THUMBS)) if t is not None]
        st.markdown(f"**{ui.md_safe(label)}** · {plural(len(group), 'image')}")
        if thumbs:
            st.image(thumbs, width=ui.THUMB_PX)


def _sizes(items: pd.DataFrame, sizes: dict | None) -> None:
    if not sizes:
        return
    st.subheader("Image sizes")
    w, h = sizes["width"], sizes["height"]
    st.caption(f"Width {w['min']}–{w['max']} pixels (typically {round(w['median'])}), height {h['min']}–{h['max']} "
               f"(typically {round(h['median'])}). The model resizes every image, so sizes may differ; very "
               "small images hold little detail.")
    shown = items.sample(MAX_SIZE_POINTS, random_state=0) if len(items) > MAX_SIZE_POINTS else items
    shown = shown.assign(**{"class": shown["class"].map(ui.plot_safe)})
    fig = px.scatter(shown, x="width", y="height", color="class", opacity=0.6,
                     labels={"width": "width (pixels)", "height": "height (pixels)"})
    st.plotly_chart(fig.update_layout(height=320, margin=dict(t=10, b=10)))
