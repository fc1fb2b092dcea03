"""Use & export: classify new images, and take the model away (bundle, ONNX, .pt2, model card)."""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from pages import ui, use_live
from tlcore.models.bundle import META, WEIGHTS, read_bundle_meta
from tlcore.use.card import model_card
from tlcore.use.export import export_bundle, onnx_matches_bundle
from tlcore.use.predict import Predictor, not_sure_below_of
from tlcore.rundir import RunDir
from tlcore.use.webdemo import write_web_demo

TOP = 5
WEB_PAGE = "web-demo.zip"  # the web page export, kept in the run folder
EXPORTS = {  # file in the run folder -> (format name, export format, what it is for)
    "model.onnx": ("ONNX", "onnx", "Runs almost anywhere: ONNX Runtime, C#, Java, browsers, phones. It gives "
                   "each class's score and its calibrated probability; the model card's Python script runs it."),
    "model.pt2": ("PyTorch program (.pt2)", "pt2",
                  "For PyTorch 2 without this project's code: torch.export.load('model.pt2').module()."),
}


def render() -> None:
    st.title("Use your model")
    run = ui.pick_trained_run("use")
    if run is None:
        return
    not_sure_below = _not_sure_slider(run)
    upload, camera, take_away = st.tabs(["Classify images", "Camera", "Download the model"])
    with upload:
        files = st.file_uploader("Images to classify", type=ui.IMAGE_TYPES, accept_multiple_files=True,
                                 help="One image, or many at once: you get a table and a CSV file.")
        if files:
            with ui.friendly_errors():
                _results(run, [(f.name, f.getvalue()) for f in files], not_sure_below)
    with camera:
        on = st.toggle("Turn the camera on", help="Your browser asks for permission to use the camera.")
        photo = on and st.camera_input("Take a picture to classify", help="Point the camera at one object.")
        if photo:
            with ui.friendly_errors():
                _results(run, [("snapshot.jpg", photo.getvalue())], not_sure_below, key="camera")
        use_live.section(run, not_sure_below)
    with take_away, ui.friendly_errors():
        _downloads(run)


def _not_sure_slider(run: RunDir) -> float:
    """The top probability under which answers are marked "not sure", starting at the model's own."""
    start = round(100 * not_sure_below_of(read_bundle_meta(run.bundle_path)))
    percent = st.slider("Mark as 'not sure' below", 0, 100, start, format="%d%%", key=f"not_sure_{run.name}",
                        help="An answer whose probability is under this is marked \"not sure\". It starts at "
                             "the value that came with the model (50% when it has none).")
    return percent / 100


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _predictor(run_dir: str, changed: float) -> Predictor:
    """The run's model, loaded once; ``changed`` (the weights file's time) makes a new bundle load anew."""
    return Predictor.from_run(run_dir)


def _predict(run: RunDir, named: list[tuple[str, bytes]], key: str) -> list[dict]:
    """Predictions for uploaded images, each row with the name it was uploaded under. A progress
    bar follows the batches; the rows are kept for this session, so looking at one image or moving
    the slider does not classify them all again."""
    weights = run.bundle_path / "model.safetensors"
    fingerprint = (str(run.path), weights.stat().st_mtime,
                   tuple((name, hashlib.sha256(data).hexdigest()) for name, data in named))
    kept = st.session_state.get(f"rows_{key}")
    if kept and kept[0] == fingerprint:
        return kept[1]
    predictor = _predictor(str(run.path), fingerprint[1])
    bar = st.progress(0.0, text=f"Classifying {len(named)} images…") if len(named) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (name, data) in enumerate(named):
            path = Path(tmp) / f"{i:05d}{Path(name).suffix.lower()}"
            path.write_bytes(data)
            paths.append(path)
        rows = predictor.predict_files(paths, top=TOP, on_batch=None if bar is None else (
            lambda done, total: bar.progress(done / total, text=f"Classifying images: {done} of {total}")))
    if bar:
        bar.empty()
    rows = [{**row, "file": name} for row, (name, _) in zip(rows, named)]
    st.session_state[f"rows_{key}"] = (fingerprint, rows)
    return rows


def _table(rows: list[dict], not_sure_below: float) -> pd.DataFrame:
    out = []
    for row in rows:
        if "error" in row:
            out.append({"file": row["file"], "predicted": "", "confidence": None, "not_sure": None,
                        "problem": f"{row['file']} {row['error']}"})
        else:
            best, p = row["top"][0]
            out.append({"file": row["file"], "predicted": best, "confidence": p, "not_sure": p < not_sure_below,
                        "problem": "", **{f"p_{c}": v for c, v in row["probabilities"].items()}})
    return pd.DataFrame(out)


def _results(run: RunDir, named: list[tuple[str, bytes]], not_sure_below: float, key: str = "upload") -> None:
    rows = _predict(run, named, key)
    table = _table(rows, not_sure_below)
    if len(rows) > 1:
        columns = {  # shown in this order
            "file": "Image", "predicted": "Class",
            "confidence": st.column_config.ProgressColumn("Confidence", format="percent", min_value=0, max_value=1,
                                                          help="How sure the model is of its answer."),
            "not_sure": st.column_config.CheckboxColumn(
                "Not sure", help=f"Ticked when the confidence is under {not_sure_below:.0%}."),
            "problem": "Problem"}
        st.dataframe(table[list(columns)], hide_index=True, column_config=columns)
        st.download_button("Download all results as CSV", table.to_csv(index=False), "predictions.csv",
                           "text/csv", key=f"csv_{key}", on_click="ignore",
                           help="One row per image, with the probability of every class.")
    index = 0
    if len(rows) > 1:
        index = st.selectbox("Look at one image", range(len(rows)), format_func=lambda i: rows[i]["file"],
                             key=f"look_{key}", help="Shows the image and the classes the model considered.")
    row, data = rows[index], named[index][1]
    if "error" in row:
        st.error(ui.md_safe(f"{row['file']} {row['error']}."), icon=":material/error:")
        return
    left, right = st.columns([1, 2])
    left.image(data, caption=ui.md_safe(row["file"]), width=220)
    best, p = row["top"][0]
    if p < not_sure_below:
        right.markdown(f"### Not sure — maybe {ui.md_safe(best)} ({p:.0%} sure)")
        right.caption(f"Its confidence is under {not_sure_below:.0%}, where you set \"not sure\" to start.")
    else:
        right.markdown(f"### {ui.md_safe(best)} ({p:.0%} sure)")
    top = pd.DataFrame([(ui.plot_safe(c), p) for c, p in row["top"]], columns=["class", "probability"])
    fig = px.bar(top, x="probability", y="class", orientation="h", range_x=[0, 1], text_auto=".0%")
    fig.update_layout(height=60 + 40 * len(top), margin=dict(t=10, b=10), yaxis=dict(autorange="reversed"),
                      xaxis_tickformat=".0%")
    right.plotly_chart(fig, key=f"top_{key}")


def _is_current(run: RunDir, filename: str) -> bool:
    """Whether the export ``filename`` exists and still matches the run's model."""
    path = run.path / filename
    if filename != "model.onnx" or not path.is_file():
        return path.is_file()
    stamps = tuple(p.stat().st_mtime for p in (path, run.bundle_path / WEIGHTS, run.bundle_path / META))
    return _onnx_current(str(path), str(run.bundle_path), stamps)


@st.cache_data(show_spinner=False, max_entries=16)
def _onnx_current(path: str, bundle: str, stamps: tuple[float, ...]) -> bool:
    """onnx_matches_bundle, read once per version of the files (``stamps``: their times)."""
    return onnx_matches_bundle(path, bundle)


def _bundle_zip(run: RunDir) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(run.bundle_path.iterdir()):
            zf.write(path, f"{run.name}/{path.name}")
    return buf.getvalue()


def _downloads(run: RunDir) -> None:
    st.markdown("**Model bundle**: the trained weights (safetensors) with the class names and preprocessing; "
                "what this project's `python -m tlcore predict` and the Python API load.")
    st.download_button("Download the model bundle (.zip)", lambda: _bundle_zip(run), f"{run.name}-bundle.zip",
                       "application/zip", on_click="ignore", key="bundle",
                       help="model.safetensors and model.json in one zip.")
    for filename, (title, fmt, purpose) in EXPORTS.items():
        st.markdown(f"**{title}**: {purpose}")
        path = run.path / filename
        if _is_current(run, filename):
            st.download_button(f"Download {filename}", lambda p=path: p.read_bytes(), f"{run.name}-{filename}",
                               "application/octet-stream", on_click="ignore", key=f"get_{filename}",
                               help="Made from this run's model and checked to give the same answers.")
            continue
        if path.is_file():
            st.caption(f"The {filename} made earlier does not match this model any more (it was trained again, "
                       "or the file comes from an older version of the studio); make it again.")
        if st.button(f"Make the {title} file", key=f"make_{filename}",
                     help="Converts the model once (a few seconds to a minute) and checks the result."):
            with st.spinner(f"Making {filename}…"):
                export_bundle(run.bundle_path, fmt, path)
            st.rerun()
    _web_page(run)
    st.markdown("**Model card**: what the model was trained on, how well it does, its limits, exactly how it "
                "prepares an image, and a Python script that runs model.onnx with only onnxruntime, numpy and "
                "Pillow (the same card as `python -m tlcore export --format card`).")
    card = model_card(run)
    st.download_button("Download the model card (.md)", card, f"{run.name}-model-card.md", "text/markdown",
                       on_click="ignore", key="card", help="A Markdown document to keep with the model.")
    with st.expander("Read the model card"):
        st.markdown(card)


def _web_page(run: RunDir) -> None:
    """The web page export: made once per version of the model (a few seconds), then downloaded."""
    st.markdown("**Web page**: the model in a page that runs in any browser, with nothing to install and no "
                "internet: it classifies the camera live and images dropped on it. Unzip it and open index.html, "
                "or put the folder on any static web host; the model card says how.")
    path = run.path / WEB_PAGE
    model_files = [run.bundle_path / WEIGHTS, run.bundle_path / META]
    if path.is_file() and all(path.stat().st_mtime >= f.stat().st_mtime for f in model_files):
        st.download_button("Download as a web page (.zip)", lambda: path.read_bytes(), f"{run.name}-web.zip",
                           "application/zip", on_click="ignore", key="get_web",
                           help=f"index.html, the model and ONNX Runtime Web ({path.stat().st_size / 1e6:.0f} MB).")
        return
    if st.button("Make the web page", key="make_web",
                 help="Packs the model with a page and the browser runtime (a few seconds to a minute)."):
        with st.spinner("Making the web page…"):
            write_web_demo(run.path, path)
        st.rerun()


if __name__ == "__main__":
    ui.show(render)
