"""A model card: what the model is, what it was trained on, how well it does, how to use it,
and how to reproduce its answers without this project (the exact preprocessing, and
tlcore.data.portable's source as a standalone script for the ONNX export)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import PIL

from tlcore.data import portable
from tlcore.use import card_text
from tlcore.use.advice import advise
from tlcore.models.bundle import read_bundle_meta
from tlcore.models.catalog import get_spec
from tlcore.data.dataset import Dataset
from tlcore.markdown import escape
from tlcore.use.notsure import calibration_sentence, rule_words
from tlcore.use.predict import temperature_of
from tlcore.use.predict_text import is_text_model
from tlcore.record import Metrics, SplitMetrics, in_texts
from tlcore.rundir import RunDir

_USAGE = ("With this project (`pip install -r requirements.txt`): `python -m tlcore predict --run RUN photo.jpg`, "
          "or in Python `Predictor(\"bundle\").predict_files([\"photo.jpg\"], top=3)` (`from tlcore.use.predict import "
          "Predictor`; \"bundle\" is the unzipped bundle folder).")
_WEB = ("In a web browser, with nothing to install: the Use page's \"Download as a web page\", or "
        "`python -m tlcore export --run RUN --format web --out demo.zip`, gives a zip holding `index.html`, this "
        "model (ONNX) and ONNX Runtime Web. Unzip it and open `index.html`, or put the folder on any static web "
        "host (GitHub Pages, Netlify, a company web server), or run `python -m http.server` in the folder and "
        "open http://localhost:8000. The page classifies the camera live and images dropped on it, loads "
        "nothing from the internet and sends no image anywhere; the camera needs the page opened from disk, "
        "from localhost or over https. It prepares each image with the steps below, in JavaScript; only a JPEG that "
        "step 1 decodes reduced comes out very slightly different, as browsers decode JPEGs whole. Scripts on the "
        "page can call `tlClassify(url)` for `{label, probability}`.")


def _preprocessing(meta: dict, not_sure: str) -> list[str]:
    """Every step between an image file and the model's answer, as the engine (tlcore.data.portable) does it."""
    size, t = meta["image_size"], temperature_of(meta)
    return [
        "## Preprocessing", "",
        "Each image goes through these steps, in this order, in training (before any augmentation), in "
        "`python -m tlcore predict` and in the script below (they are the same code, with Pillow and numpy):", "",
        f"1. **Decoding.** Images of more than {portable.MAX_PIXELS:,} pixels (width x height) are refused. "
        "Only the first frame of an animated image is used. A JPEG is decoded whole, as any browser "
        "decodes it (not at a reduced scale).",
        "2. **Orientation.** The EXIF orientation is applied (`ImageOps.exif_transpose`), so a "
        "portrait photo is upright.",
        "3. **Colours, to 8-bit RGB.** Transparency (modes RGBA, LA, PA, RGBa, La, or a palette, L or "
        "RGB image with a transparent colour) is painted on white: the image is converted to RGBA and "
        "pasted onto a white RGB image with its alpha channel as the mask. 16-bit greyscale (I;16 modes) "
        "is divided by 256. 32-bit integer greyscale (I) with values over 255, and float greyscale (F) "
        "always, are multiplied by 255 / their largest value. These greys are then clipped to 0-255, "
        "truncated to whole numbers and repeated in R, G and B. RGB stays as it is; every other mode "
        "(L, 1, P, CMYK, YCbCr, ...) goes through Pillow's `convert(\"RGB\")`.",
        f"4. **Resize.** The shorter side becomes {size} px and the longer side int({size} x longer / "
        f"shorter) px, rounded down, with Pillow's `Image.resize((width, height), "
        "Image.Resampling.BILINEAR)` (its filter widens when shrinking, so it also smooths).",
        f"5. **Crop.** The centre {size} x {size} square: left edge at (width - {size}) // 2, top edge at "
        f"(height - {size}) // 2 (integer division, rounding down).",
        "6. **Scaling.** Each 0-255 value becomes float32 and is divided by 255, giving 0..1.",
        f"7. **Normalisation.** Per channel, (value - mean) / std with mean {json.dumps(list(meta['mean']))} "
        f"and std {json.dumps(list(meta['std']))} (R, G, B; float32).",
        f"8. **Layout.** Channels in R, G, B order, as float32 N x 3 x {size} x {size} (NCHW); the ONNX "
        "input is named `image` and takes any batch size.",
        f"9. **Output.** `logits`: one raw score per class, in the order of the class list above. "
        f"`probabilities`: softmax(logits / {t!r}), where {t!r} is the calibration temperature "
        "(1 means uncalibrated); these are the probabilities `python -m tlcore predict` prints. The answer "
        f"is the class with the highest probability. {not_sure}",
    ]


def _standalone(run: RunDir) -> list[str]:
    """The portable script, whole, and how to run it."""
    return [
        "## Use it without this project", "",
        "Save this as `snippet.py` and run `python snippet.py model.onnx photo1.jpg photo2.png` "
        "(needs only `pip install onnxruntime numpy \"Pillow>=9.1\"`). It prints `path,class,probability` per "
        f"image. This card was written with Pillow {PIL.__version__}; another version may decode a JPEG very "
        "slightly differently, which can move a probability in its last digits.",
        "Get `model.onnx` from the studio's Use page (\"Download the model\", ONNX), or with "
        f"`python -m tlcore export --run RUN --format onnx --out model.onnx` (RUN: this run's folder, "
        f"{escape(run.name)}).", "",
        "```python", inspect.getsource(portable).rstrip("\n"), "```",
    ]


def _metric_table(metrics: SplitMetrics, unit: str = "images") -> list[str]:
    lines = [f"| class | precision | recall | F1 | {unit} |", "| --- | --- | --- | --- | --- |"]
    for name, s in metrics.per_class.items():
        lines.append(f"| {escape(name)} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
    return lines


SPLIT_TITLES = {"test": "Test images (never used in training)",
                "cv": "Cross-validation (each image scored by a model trained without it)",
                "val": "Validation images (kept aside from training)"}


def _data_line(ds: Dataset, unit: str = "images") -> str:
    counts = {split: sum(ds.counts(split).values()) for split in ("train", "val", "test")}
    parts = [f"{counts['train']} training {unit}"] + [f"{n} {name} {unit}" for name, n in
                                                      (("validation", counts["val"]), ("test", counts["test"])) if n]
    return ", ".join(parts)


def labels_line(made: dict[str, int]) -> str:
    """How the labels of the data a run trained on were made (``tlcore.data.labels.labels_made``)."""
    return (f"- **Labels:** {made['person']} checked by a person, {made['bulk']} accepted in bulk from the "
            f"model's suggestions, {made['imported']} came with their class folders")


def _scores(metrics: Metrics, words: Callable[[str], str] = str) -> list[str]:
    """The kept model's one score, then every split's report, then how far its confidence can be trusted
    (``words``: the sentences for a text model, in_texts)."""
    lines = ["", words(f"**Score: {metrics.score.sentence()}.** The range is a 95% interval."), ""]
    if metrics.estimate != metrics.score:
        lines += [words(f"Estimate from the labelled images: {metrics.estimate.sentence()}."), ""]
    for split in metrics.splits:
        m = metrics.split(split)
        lines += [words(f"{SPLIT_TITLES[split]}: accuracy {m.accuracy:.3f}, macro precision {m.precision_macro:.3f}, "
                        f"macro recall {m.recall_macro:.3f}, macro F1 {m.f1_macro:.3f} ({m.count} images)."), ""]
        lines += _metric_table(m, words("images")) + [""]
    if metrics.calibration:
        lines += [words(f"**Confidence.** {calibration_sentence(metrics.calibration)} (The calibration error is how "
                        "far, on average, the stated confidence is from how often the model is right.)"), ""]
    return lines


def _base_model(meta: dict, spec) -> str:
    if "ensemble" not in meta:
        return f"{spec.title} pretrained on ImageNet ({spec.params_m}M parameters)"
    members = [get_spec(m["model"]) for m in meta["ensemble"]["members"]]
    return (f"the most accurate recipe: {', '.join(m.title for m in members)} pretrained on ImageNet "
            f"({sum(m.params_m for m in members):.2f}M parameters), frozen, read at several depths"
            + (" and averaged with the mirror image" if meta["ensemble"]["flip"] else ""))


def model_card(run: RunDir) -> str:
    """Markdown describing the trained model of ``run``."""
    meta = read_bundle_meta(run.bundle_path)
    record, metrics = run.record(), run.metrics()
    cfg, spec = record.config, get_spec(meta["model"])
    ds = Dataset.load(run.dataset_path)
    text = is_text_model(meta)
    words, unit = (in_texts, "texts") if text else (str, "images")
    stages, not_sure = meta["trainable_stages"], words(rule_words(run))
    strategy = ("feature extraction: the pretrained network was frozen and only a new final layer was trained"
                if stages == 0 else f"fine-tuning: the last {stages} of {len(spec.stages)} stages and a new "
                "final layer were trained") + f"; {cfg.epochs} epochs, augmentation '{cfg.augment}'"
    if text and not stages:  # the default text recipe: one fit, no epochs
        strategy = card_text.FROZEN
    lines = [
        f"# Model card: {escape(ds.name)} classifier", "",
        f"- **Classes ({len(meta['classes'])}):** {', '.join(map(escape, meta['classes']))}",
        f"- **Base model:** {card_text.base_model(spec) if text else _base_model(meta, spec)}",
        f"- **Strategy:** {strategy}, seed {cfg.seed}",
        card_text.input_line(meta) if text else
        f"- **Input:** {meta['image_size']} x {meta['image_size']} RGB, prepared as described under Preprocessing",
        f"- **Data:** {_data_line(ds, unit)} (dataset id {ds.id})",
        *([labels_line(record.labels)] if record.labels else []),
        f"- **Run:** {escape(run.name)}, made with torch {record.environment['torch']}, code {record.environment.get('code_version')}",
        "",
        "## How well it does",
    ]
    lines += _scores(metrics, words)
    limits = card_text.LIMITS if text else [
        "- It only knows the classes above: any other image is still given one of them.",
        "- Scores were measured on images like the training images; other cameras, lighting or backgrounds may "
        "score lower."]
    use = ([card_text.USAGE, "", *card_text.preprocessing(meta, not_sure), "", *card_text.standalone(run.name)]
           if text else [_USAGE, "", _WEB, "", *_preprocessing(meta, not_sure), "", *_standalone(run)])
    lines += ["", "## Limits", "", *limits, *[f"- {escape(words(a))}" for a in advise(run)],
              "", "## How to use it", "", f"**\"Not sure\".** {not_sure}", "", *use]
    return "\n".join(lines) + "\n"
