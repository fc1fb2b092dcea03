"""The web page export (python -m tlcore export --format web): a zip that classifies images in the
browser with no server and no network, agreeing with the engine's predictions."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from tlcore.cli import main
from tlcore.use.card import model_card
from tlcore.use.predict import Predictor
from tlcore.rundir import RunDir

SIZE = 64  # the image size of app_fixtures.TINY, which trained_run uses
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
EXPECTED = {"index.html", "prepare.js", "demo.js", "model.js", "README.txt", "onnxruntime-web/ort.wasm.min.js",
            "onnxruntime-web/ort-wasm-simd-threaded.js", "onnxruntime-web/LICENSE", "onnxruntime-web/VERSION"}
OUTSIDE_URL = re.compile(r"(?:https?:)?//(?!localhost[:/])[a-z0-9-]+\.[a-z0-9.-]+", re.I)


@pytest.fixture(scope="module")
def run_dir(trained_run) -> Path:
    """The session's tiny finished run (4 Fashion-MNIST classes, 64 px; tests/app_fixtures.py)."""
    return trained_run


@pytest.fixture(scope="module")
def demo(run_dir, tmp_path_factory) -> Path:
    """The exported zip, made by the command line, and unzipped: the folder holding index.html."""
    folder = tmp_path_factory.mktemp("demo")
    assert main(["export", "--run", str(run_dir), "--format", "web", "--out", str(folder / "demo.zip")]) == 0
    with zipfile.ZipFile(folder / "demo.zip") as zf:
        zf.extractall(folder / "site")
    return folder / "site"


def _images(fashion_small) -> list[tuple[str, bytes]]:
    """26 test images in the forms the engine handles: PNG (grey, 16-bit grey, RGB larger and smaller
    than the model's size, RGBA and a palette with a transparent colour), JPEG (small and large, all
    decoded whole; EXIF-turned) and WebP."""
    rng = np.random.default_rng(0)
    garments = [np.asarray(Image.open(p)) for p in sorted((fashion_small / "test").glob("*/*.png"))]
    out = []
    for i in range(24):
        grey = garments[(7 * i) % len(garments)]
        kind = ["grey", "rgb", "rgba", "palette", "jpeg", "jpeg-large", "jpeg-exif", "rgb-small"][i % 8]
        w, h = (int(rng.integers(70, 200)), int(rng.integers(70, 200)))
        if kind == "rgb-small":
            w, h = int(rng.integers(30, 60)), int(rng.integers(30, 60))
        if kind == "jpeg-large":
            w, h = 640, 480
        if kind == "jpeg-exif":  # also big enough for draft decoding, which happens before the turn
            w, h = int(rng.integers(100, 420)), int(rng.integers(100, 420))
        mask = np.asarray(Image.fromarray(grey).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255
        tint = rng.integers(60, 256, 3)
        # A photo-like background: blotches of colour with some grain.
        blotches = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        noise = np.asarray(blotches, dtype=np.float32) + rng.normal(0, 12, (h, w, 3))
        rgb = (mask[..., None] * tint + (1 - mask[..., None]) * noise).clip(0, 255).astype(np.uint8)
        img, options, fmt = Image.fromarray(rgb), {}, "PNG"
        if kind == "grey":
            img = Image.fromarray(grey).resize((w, h), Image.Resampling.BILINEAR)
        elif kind == "rgba":  # the noise under the transparent part must not reach the model
            img = Image.fromarray(np.dstack([rgb, (mask * 255).astype(np.uint8)]))
        elif kind == "palette":
            pal = img.quantize(63)
            index = np.asarray(pal).copy()
            index[mask < 0.15] = 63
            img = Image.fromarray(index.astype(np.uint8), "P")
            img.putpalette((pal.getpalette() + [0] * 189)[:189] + [255, 0, 255])
            options = {"transparency": 63}
        elif kind.startswith("jpeg"):
            fmt, options = "JPEG", {"quality": 90}
            if kind == "jpeg-exif":
                exif = Image.Exif()
                exif[0x0112] = int(rng.choice([3, 6, 8]))
                options["exif"] = exif.tobytes()
        buf = io.BytesIO()
        img.save(buf, fmt, **options)
        out.append((f"{i:02d}-{kind}.{fmt.lower()}", buf.getvalue()))
    # Two more formats: 16-bit grey PNG (Pillow divides by 256) and lossless WebP.
    wide = np.asarray(Image.fromarray(garments[3]).resize((150, 110), Image.Resampling.BILINEAR), dtype=np.uint16)
    for name, img, options in [("24-grey16.png", Image.fromarray(wide * 257 + 100), {}),
                               ("25-rgb.webp", Image.fromarray(rgb), {"lossless": True})]:
        buf = io.BytesIO()
        img.save(buf, name.rsplit(".", 1)[1].upper(), **options)
        out.append((name, buf.getvalue()))
    return out


def test_zip_holds_the_page_model_and_runtime_and_nothing_from_the_internet(demo, run_dir):
    assert {str(p.relative_to(demo)) for p in demo.rglob("*") if p.is_file()} == EXPECTED
    for name in ["index.html", "prepare.js", "demo.js", "README.txt"]:
        text = (demo / name).read_text()
        assert not OUTSIDE_URL.findall(text), f"{name} refers to the internet: {OUTSIDE_URL.findall(text)}"
    page = (demo / "index.html").read_text()
    assert re.findall(r'<script src="([^"]+)"', page) == [
        "onnxruntime-web/ort.wasm.min.js", "onnxruntime-web/ort-wasm-simd-threaded.js", "model.js", "prepare.js",
        "demo.js"]
    meta = Predictor.from_run(run_dir).meta
    assert all(c in page for c in meta["classes"]) and "{{" not in page
    assert "1.30.0" in (demo / "onnxruntime-web/VERSION").read_text()
    assert "MIT License" in (demo / "onnxruntime-web/LICENSE").read_text()
    # model.js: the fields the page reads, and the ONNX model with its calibrated output.
    model_js = (demo / "model.js").read_text().splitlines()
    fields = json.loads(model_js[0].removeprefix("window.tlModel = ").removesuffix(";"))
    assert fields["classes"] == meta["classes"] and fields["image_size"] == SIZE
    assert fields["mean"] == meta["mean"] and fields["std"] == meta["std"]
    onnx_b64 = model_js[1].removeprefix('window.tlModel.onnx = "').removesuffix('";')
    graph = onnx.load_from_string(base64.b64decode(onnx_b64))
    assert [o.name for o in graph.graph.output] == ["logits", "probabilities"]
    assert json.loads({p.key: p.value for p in graph.metadata_props}["classes"]) == meta["classes"]
    card = model_card(RunDir(run_dir))
    assert "--format web" in card and "python -m http.server" in card and "index.html" in card


@pytest.mark.browser
def test_page_opened_from_disk_offline_agrees_with_the_engine(demo, run_dir, fashion_small, tmp_path):
    from playwright.sync_api import sync_playwright

    images = _images(fashion_small)
    for name, data in images:
        (tmp_path / name).write_bytes(data)
    expected = Predictor.from_run(run_dir).predict_files([tmp_path / name for name, _ in images], top=1)
    urls = [f"data:image/{Path(n).suffix[1:]};base64,{base64.b64encode(d).decode()}" for n, d in images]
    local = ("file:", "data:", "blob:")
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local)
                       else (outside.append(route.request.url), route.abort()))
            page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
            page.goto((demo / "index.html").as_uri())
            page.wait_for_function("document.getElementById('status').className !== 'status'", timeout=60_000)
            assert page.inner_text("#status").startswith("Ready"), page.inner_text("#status")
            got = page.evaluate("urls => Promise.all(urls.map(u => window.tlClassify(u)))", urls)
            # The file chooser shows the same answer with its per-class bars.
            page.set_input_files("#choose", [str(tmp_path / images[0][0])])
            page.wait_for_function("document.querySelector('.result .bars .bar') !== null", timeout=30_000)
            shown = page.inner_text(".result .headline")
        finally:
            browser.close()
    assert not outside, f"the page tried to reach the network: {outside}"
    gaps = {name: max(abs(g["probabilities"][c] - p) for c, p in e["probabilities"].items())
            for (name, _), g, e in zip(images, got, expected)}
    differ = [(name, g["label"], e["top"][0][0]) for (name, _), g, e in zip(images, got, expected)
              if g["label"] != e["top"][0][0]]
    assert len(differ) <= 0.01 * len(images), (differ, gaps)
    assert max(gaps.values()) <= 0.01, gaps  # big JPEGs too: the engine decodes them whole, as a browser does
    assert all(g["probability"] == max(g["probabilities"].values()) for g in got)
    assert got[0]["label"] in shown and f"{round(got[0]['probability'] * 100)}%" in shown


def test_use_page_makes_the_web_page_and_offers_it(workspace_run):
    from app_fixtures import studio

    from pages import ui

    at = studio("use", **{ui.RUN: workspace_run})
    assert "Download as a web page (.zip)" not in [b.label for b in at.get("download_button")]
    next(b for b in at.button if b.label == "Make the web page").click()
    at.run()
    assert not at.exception and not at.error
    assert "Download as a web page (.zip)" in [b.label for b in at.get("download_button")]
    with zipfile.ZipFile(Path(workspace_run) / "web-demo.zip") as zf:
        assert set(zf.namelist()) == EXPECTED
