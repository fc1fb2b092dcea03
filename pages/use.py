"""Use & export: classify new images, and take the model away (bundle, ONNX, .pt2, model card)."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import hashlib
from collections.abc import Callable

import pandas as pd
import streamlit as st

from pages import ui, use_live, use_text
from tlcore.studio import (NotSureRule, Predictor, RunDir, bundle_zip, coverage_of, coverage_sentence, export_is_current,
                           export_stamps, export_to_run, in_texts, keep_not_sure_rule, load_predictor, model_card,
                           model_changed, predict_uploads, results_csv, rule_of, rule_sentence, run_texts,
                           text_onnx_zip, write_web_demo)

TOP = 5
EXPORTS = {  # file in the run folder -> (format name, export format, what it is for, details for programmers)
    "model.onnx": ("ONNX", "onnx", "Runs almost anywhere: ONNX Runtime, C#, Java, browsers, phones. It gives "
                   "each class's score and its calibrated probability; the model card's Python script runs it.", ""),
    "model.pt2": ("PyTorch program (.pt2)", "pt2",
                  "For programmers who use PyTorch: the whole model in one file that runs without this studio.",
                  "Load it with `torch.export.load('model.pt2').module()` (PyTorch 2)."),
}


def render() -> None:
    st.title("Use your model")
    run = ui.pick_trained_run("use")
    if run is None:
        return
    text = run_texts(run.path) is not None
    rule = _not_sure_rule(run, in_texts if text else str)
    if text:  # a text model: no images, camera or web page
        classify, take_away = st.tabs(["Classify texts", "Download the model"])
        with classify:
            use_text.section(run, rule)
        with take_away, ui.friendly_errors():
            _downloads(run, text=True)
        return
    upload, camera, take_away = st.tabs(["Classify images", "Camera", "Download the model"])
    with upload:
        files = st.file_uploader("Images to classify", type=ui.IMAGE_TYPES, accept_multiple_files=True,
                                 help="One image, or many at once: you get a table and a CSV file.")
        if files:
            with ui.friendly_errors():
                _results(run, [(f.name, f.getvalue()) for f in files], rule)
    with camera:
        on = st.toggle("Turn the camera on", help="Your browser asks for permission to use the camera.")
        photo = on and st.camera_input("Take a picture to classify", help="Point the camera at one object.")
        if photo:
            with ui.friendly_errors():
                _results(run, [("snapshot.jpg", photo.getvalue())], rule, key="camera")
        use_live.section(run, rule)
    with take_away, ui.friendly_errors():
        _downloads(run)


AS_IT_CAME, OFF = -1, 0  # the "not sure" control's choices besides a share right (50..99)


def _not_sure_rule(run: RunDir, say: Callable[[str], str]) -> NotSureRule:
    """The run's "not sure" rule, chosen in the user's terms; off until they choose one. The choice
    is kept in the run folder, so the exports made afterwards carry the same rule (``say``: its
    sentences worded for the run's kind)."""
    rule, coverage, key = rule_of(run), coverage_of(run), f"not_sure_{run.name}"
    came = rule.on and rule.target is None  # a model from an older version, with its own threshold
    start = AS_IT_CAME if came else (OFF if rule.target is None else round(100 * rule.target))
    names = {AS_IT_CAME: f"as the model came (under {rule.below:.0%})", OFF: "off"}
    st.select_slider("Answers should be right at least … of the time", [AS_IT_CAME] * came + [OFF, *range(50, 100)],
                     start, format_func=lambda v: names.get(v, f"{v}%"), key=key, on_change=_keep_rule,
                     args=(run, key),
                     help="Off: every answer is the model's top class. Otherwise answers the model is less sure "
                          "of are marked \"not sure\", so that the others are right at least this often.")
    rule = rule_of(run)
    if rule.target is not None:
        st.caption(say(coverage_sentence(rule.target, coverage)))
    st.caption(say(rule_sentence(rule)))
    return rule


def _keep_rule(run: RunDir, key: str) -> None:
    """Save the rule just chosen in the run folder (as it came: the saved one is forgotten)."""
    choice = st.session_state[key]
    keep_not_sure_rule(run, None if choice in (AS_IT_CAME, OFF) else choice / 100, as_it_came=choice == AS_IT_CAME)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _predictor(run_dir: str, changed: float) -> Predictor:
    """The run's model, loaded once; ``changed`` (the weights file's time) makes a new bundle load anew."""
    return load_predictor(run_dir)


def _predict(run: RunDir, named: list[tuple[str, bytes]], key: str) -> list[dict]:
    """Predictions for uploaded images, each row with the name it was uploaded under. A progress
    bar follows the batches; the rows are kept for this session, so looking at one image or moving
    the slider does not classify them all again."""
    fingerprint = (str(run.path), model_changed(run),
                   tuple((name, hashlib.sha256(data).hexdigest()) for name, data in named))
    kept = st.session_state.get(f"rows_{key}")
    if kept and kept[0] == fingerprint:
        return kept[1]
    predictor = _predictor(str(run.path), fingerprint[1])
    bar = st.progress(0.0, text=f"Classifying {len(named)} images…") if len(named) > 1 else None
    rows = predict_uploads(predictor, named, TOP, on_batch=None if bar is None else (
        lambda done, total: bar.progress(done / total, text=f"Classifying images: {done} of {total}")))
    if bar:
        bar.empty()
    st.session_state[f"rows_{key}"] = (fingerprint, rows)
    return rows


def _table(rows: list[dict], rule: NotSureRule) -> pd.DataFrame:
    out = []
    for row in rows:
        if "error" in row:
            out.append({"file": row["file"], "predicted": "", "confidence": None, "not_sure": None,
                        "problem": f"{row['file']} {row['error']}"})
        else:
            best, p = row["top"][0]
            out.append({"file": row["file"], "predicted": best, "confidence": p, "not_sure": rule.unsure(p),
                        "problem": "", **{f"p_{c}": v for c, v in row["probabilities"].items()}})
    return pd.DataFrame(out)


def _results(run: RunDir, named: list[tuple[str, bytes]], rule: NotSureRule, key: str = "upload") -> None:
    rows = _predict(run, named, key)
    table = _table(rows, rule)
    if not rule.on:
        table = table.drop(columns="not_sure")
    if len(rows) > 1:
        columns = {  # shown in this order
            "file": "Image", "predicted": "Class",
            "confidence": st.column_config.ProgressColumn("Confidence", format="percent", min_value=0, max_value=1,
                                                          help="How sure the model is of its answer."),
            "not_sure": use_live.not_sure_column(rule),
            "problem": "Problem"}
        if not rule.on:
            del columns["not_sure"]
        st.dataframe(table[list(columns)], hide_index=True, column_config=columns)
        st.download_button("Download all results as CSV", results_csv(rows, rule.below if rule.on else None),
                           "predictions.csv",
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
    use_live.answer(right, row, rule, key)


def _is_current(run: RunDir, fmt: str, below: float) -> bool:
    """Whether the run folder's export ``fmt`` can be offered for download as it is (``current_export``)."""
    stamps = export_stamps(run, fmt)
    return stamps is not None and _current(str(run.path), fmt, stamps, below)


@st.cache_data(show_spinner=False, max_entries=16)
def _current(run_dir: str, fmt: str, stamps: tuple[int, ...], below: float) -> bool:
    """current_export, read once per version of the files (``stamps``) and rule."""
    return export_is_current(RunDir(run_dir), fmt, below)


def _downloads(run: RunDir, text: bool = False) -> None:
    st.markdown(f"**Model bundle**: the trained model with its class names and how it prepares "
                f"{'a text' if text else 'an image'}, for this studio and its command line.")
    st.caption("Inside: the weights as model.safetensors and the rest as model.json; `python -m tlcore predict` "
               "and the Python API load it.")
    st.download_button("Download the model bundle (.zip)", lambda: bundle_zip(run), f"{run.name}-bundle.zip",
                       "application/zip", on_click="ignore", key="bundle",
                       help="model.safetensors and model.json in one zip.")
    below = rule_of(run).below
    for filename, (title, fmt, purpose, details) in EXPORTS.items():
        if text and fmt != "onnx":  # a text model is exported as ONNX, with its tokenizer
            continue
        st.markdown(f"**{title}**: {purpose}")
        if details:
            st.caption(details)
        path = run.export_path(fmt)
        if _is_current(run, fmt, below) and text:
            st.download_button("Download model.onnx with its tokenizer.json (.zip)", lambda: text_onnx_zip(run),
                               f"{run.name}-onnx.zip", "application/zip", on_click="ignore", key=f"get_{filename}",
                               help="The model and the tokenizer that turns a text into its input, in one zip.")
            continue
        if _is_current(run, fmt, below):
            st.download_button(f"Download {filename}", lambda p=path: p.read_bytes(), f"{run.name}-{filename}",
                               "application/octet-stream", on_click="ignore", key=f"get_{filename}",
                               help="Made from this run's model and checked to give the same answers.")
            continue
        if path.is_file():
            st.caption(f"The {filename} made earlier does not match this model any more (it was trained again, "
                       "its \"not sure\" rule changed, the file was changed since it was made, or it comes from an "
                       "older version of the studio); make it again.")
        if st.button(f"Make the {title} file", key=f"make_{filename}",
                     help="Converts the model once (a few seconds to a minute) and checks the result."):
            with st.spinner(f"Making {filename}…"):
                export_to_run(run, fmt, below)
            st.rerun()
    if not text:
        _web_page(run, below)
    st.markdown("**Model card**: what the model was trained on, how well it does, its limits, exactly how it "
                f"prepares {'a text' if text else 'an image'}, and a Python script that runs model.onnx with only "
                f"onnxruntime, {'tokenizers and numpy' if text else 'numpy and Pillow'} (the same card as "
                "`python -m tlcore export --format card`).")
    card = model_card(run)
    st.download_button("Download the model card (.md)", card, f"{run.name}-model-card.md", "text/markdown",
                       on_click="ignore", key="card", help="A Markdown document to keep with the model.")
    with st.expander("Read the model card"):
        st.markdown(card)


def _web_page(run: RunDir, below: float) -> None:
    """The web page export: made once per version of the model (a few seconds), then downloaded."""
    st.markdown("**Web page**: the model in a page that runs in any browser, with nothing to install and no "
                "internet: it classifies the camera live and images dropped on it. Unzip it and open index.html, "
                "or put the folder on any static web host; the model card says how.")
    path = run.export_path("web")
    if _is_current(run, "web", below):
        st.download_button("Download as a web page (.zip)", lambda: path.read_bytes(), f"{run.name}-web.zip",
                           "application/zip", on_click="ignore", key="get_web",
                           help=f"index.html, the model and ONNX Runtime Web ({path.stat().st_size / 1e6:.0f} MB).")
        return
    if st.button("Make the web page", key="make_web",
                 help="Packs the model with a page and the browser runtime (a few seconds to a minute)."):
        with st.spinner("Making the web page…"):
            write_web_demo(run.path)
        st.rerun()


if __name__ == "__main__":
    render()
