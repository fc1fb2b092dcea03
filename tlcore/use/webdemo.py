"""The web demo export: a zip holding a web page that classifies images and camera frames in the
browser, with the model (ONNX) and the browser runtime (ONNX Runtime Web, vendored in tlcore/web).

The page needs no server and no network: it opens from disk (file://) or from any static host.
Browsers refuse to fetch() files of a page opened from disk, so the model and the WebAssembly
runtime travel base64-encoded inside classic scripts (model.js, onnxruntime-web/*.js), which a
<script> tag may load from disk; the page prepares each image as tlcore.data.portable does (see
tlcore/web/prepare.js) and uses the ONNX file's calibrated "probabilities" output (tlcore/web/demo.js)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from pathlib import Path

from tlcore.atomic import atomic_write_bytes, temp_beside
from tlcore.data.portable import MAX_PIXELS
from tlcore.models.bundle import read_bundle_meta
from tlcore.errors import TLError
from tlcore.use.export import current_export, export_bundle
from tlcore.use.notsure import rule_of, rule_words
from tlcore.use.predict_text import is_text_model
from tlcore.rundir import RunDir

WEB = Path(__file__).parents[1] / "web"
ORT = WEB / "onnxruntime-web"
ORT_VERBATIM = ["ort.wasm.min.js", "LICENSE", "VERSION"]  # copied into the zip unchanged
ORT_GLUE, ORT_WASM = "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"
PAGE_SCRIPTS = ("prepare.js", "demo.js")  # the page's own scripts, next to index.html in tlcore/web
WEB_IS_FOR_IMAGES = ("The web page classifies pictures from a camera or image files, so it is made for image models; use a "
                     "text model through its ONNX file and the model card's script.")
RUNTIME_SCRIPT = "onnxruntime-web/ort-wasm-simd-threaded.js"  # the loader and binary, for <script>
README = """{title}: a web page that classifies images with the model trained in the transfer-learning studio.

Open index.html in Chrome, Edge, Firefox or Safari, or put this whole folder on any static web host
(GitHub Pages, Netlify, a company web server), or run `python -m http.server` in this folder and open
http://localhost:8000. Nothing is downloaded from the internet and images never leave the computer.

{not_sure}

  index.html          the page
  prepare.js          prepares each image (or camera frame) as the studio does
  demo.js             runs the model and shows the answer
  model.js            the model: the ONNX file (base64, so the page works when opened from disk),
                      its classes ({classes}), image size, normalisation and "not sure" rule
  onnxruntime-web/    ONNX Runtime Web {ort_version} (MIT license, see LICENSE and VERSION)

Scripts on the page can call tlClassify(url) for a promise of {{label, probability}}.
"""


def _title(run: RunDir) -> str:
    """"<dataset> classifier", as the model card names it; the run's name if its dataset is gone."""
    from tlcore.data.dataset import Dataset

    try:
        return f"{Dataset.load(run.dataset_path).name} classifier"
    except (TLError, OSError, ValueError, KeyError):
        return f"{run.name} classifier"


def _onnx_bytes(run: RunDir, beside: Path) -> bytes:
    """The run's ONNX export: the one kept in the run folder when it is current (``current_export``:
    the file recorded when it was made, from these weights, with this rule), else one made now from
    the bundle's weights, in a temporary file beside ``beside`` (the zip being written: the disk that
    must hold it anyway, and where the next export sweeps what a killed one left; see atomic.temp_beside)."""
    below = rule_of(run).below
    if (kept := current_export(run, "onnx", below)) is not None:
        return kept
    with temp_beside(beside, suffix=".onnx") as tmp:
        export_bundle(run.bundle_path, "onnx", tmp, below)
        return tmp.read_bytes()


def _script(name: str, fields: dict, base64_fields: dict[str, bytes]) -> str:
    """A classic script setting window.<name> to ``fields`` plus base64 strings."""
    lines = [f"window.{name} = {json.dumps(fields, ensure_ascii=True)};"]
    lines += [f'window.{name}.{key} = "{base64.b64encode(data).decode()}";' for key, data in base64_fields.items()]
    return "\n".join(lines) + "\n"


def _runtime_files() -> dict[str, Path]:
    files = {name: ORT / name for name in [*ORT_VERBATIM, ORT_GLUE, ORT_WASM]}
    missing = [name for name, path in files.items() if not path.is_file()]
    missing += [name for name in ("index.html", *PAGE_SCRIPTS) if not (WEB / name).is_file()]
    if missing:
        raise TLError("The browser runtime for the web page is missing from this installation "
                      f"(tlcore/web: {', '.join(missing)}); install the studio again.")
    return files


def web_demo_zip(run_dir: str | Path, out_path: str | Path | None = None) -> bytes:
    """The web demo of a trained run, as zip bytes: index.html, prepare.js, demo.js, model.js (the ONNX model
    with its classes and preprocessing numbers), onnxruntime-web/ and README.txt. ``out_path``: where the
    zip will be written (temporary files go beside it), the run's own web page file when None."""
    run = RunDir(run_dir)
    out_path = run.export_path("web") if out_path is None else Path(out_path)
    files = _runtime_files()
    meta = read_bundle_meta(run.bundle_path)
    title, below, words = _title(run), rule_of(run).below, rule_words(run)
    model = {"title": title, "classes": list(meta["classes"]), "image_size": int(meta["image_size"]),
             "mean": [float(v) for v in meta["mean"]], "std": [float(v) for v in meta["std"]],
             "not_sure_below": below, "run": run.name, "max_pixels": MAX_PIXELS}
    fill = {"title": title, "classes": ", ".join(model["classes"]), "not_sure": words}
    page = re.sub(r"\{\{(\w+)\}\}", lambda m: html.escape(fill[m.group(1)]), (WEB / "index.html").read_text())
    runtime = _script("tlOrtWasm", {"glue": files[ORT_GLUE].read_text()}, {"wasm": files[ORT_WASM].read_bytes()})
    ort_version = files["VERSION"].read_text().split()[1]
    readme = README.format(title=title, classes=", ".join(model["classes"]), ort_version=ort_version,
                           not_sure=words)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("index.html", page)
        for name in PAGE_SCRIPTS:
            zf.writestr(name, (WEB / name).read_text())
        zf.writestr("model.js", _script("tlModel", model, {"onnx": _onnx_bytes(run, out_path)}))
        zf.writestr("README.txt", readme)
        for name in ORT_VERBATIM:
            zf.write(files[name], f"onnxruntime-web/{name}")
        zf.writestr(RUNTIME_SCRIPT, runtime)
    return buf.getvalue()


def write_web_demo(run_dir: str | Path, out_path: str | Path | None = None) -> int:
    """Write the run's web demo zip (see ``web_demo_zip``) to ``out_path``, or, without one, into the
    run folder, recorded there to be offered for download (``current_export``); its size in bytes."""
    run = RunDir(run_dir)
    if is_text_model(read_bundle_meta(run.bundle_path)):
        raise TLError(WEB_IS_FOR_IMAGES)
    out = Path(out_path) if out_path is not None else run.export_path("web")
    data = web_demo_zip(run_dir, out)
    atomic_write_bytes(out, data)
    if out_path is None:
        run.record_export("web")
    return len(data)
