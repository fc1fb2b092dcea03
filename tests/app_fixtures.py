"""Fixtures and helpers for the studio's AppTest tests (tests/test_app_*.py)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
# AppTest re-detects Streamlit's legacy "pages/ folder" mode before every run, and in that mode
# a page file runs without app.py (no sidebar, no error handling). A launcher outside the
# repository avoids it, as `streamlit run app.py` does after its first run.
LAUNCHER = f"""
import runpy, sys
sys.path.insert(0, {str(ROOT)!r})
runpy.run_path({str(ROOT / "app.py")!r}, run_name="__main__")
"""
# A run that takes seconds on a CPU: frozen network, small images, no augmentation.
TINY = dict(model="efficientnet_lite0", image_size=64, batch_size=16, trainable_stages=0, epochs=2,
            augment="none", device="cpu")


def goto(at: AppTest, page: str) -> AppTest:
    """Switch the app to ``page`` (a module name in pages/) and run it."""
    at.switch_page(str(ROOT / "pages" / f"{page}.py"))
    return at.run()


def studio(page: str = "data", **state) -> AppTest:
    """The app opened on ``page``, with session ``state`` prepared by the test."""
    at = AppTest.from_string(LAUNCHER, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run() if page == "data" else goto(at, page)


def charts(at: AppTest) -> dict[str, go.Figure]:
    """The plotly figures on the page, by title (or by position when untitled)."""
    figures = [go.Figure(_plain(json.loads(e.proto.spec))) for e in at.get("plotly_chart")]
    return {fig.layout.title.text or str(i): fig for i, fig in enumerate(figures)}


def _plain(obj):
    """JSON with plotly's base64 typed arrays ({"dtype", "bdata", "shape"}) turned into lists."""
    if isinstance(obj, dict) and "bdata" in obj and "dtype" in obj:
        array = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
        shape = [int(n) for n in str(obj.get("shape", len(array))).split(",")]
        return array.reshape(shape).tolist()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def texts(elements) -> str:
    """All values of an element list joined, for 'is this sentence shown' checks."""
    return "\n".join(str(e.value) for e in elements)


def wait_until(at: AppTest, predicate, timeout: float = 120.0) -> AppTest:
    """Rerun the app until ``predicate(at)`` holds, as the live page's polling would."""
    end = time.time() + timeout
    while not predicate(at.run()):
        if time.time() > end:
            raise AssertionError("the app did not reach the expected state in time")
        time.sleep(1.0)
    return at


def png(value: int, size: int = 40, fmt: str = "PNG") -> bytes:
    """A small grey image of brightness ``value``, as a PNG file (or ``fmt``)."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (value, value, value)).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def trained_run(fashion_small, tmp_path_factory) -> Path:
    """A finished tiny run (4 Fashion-MNIST classes, 2 epochs, scored on a test set), made once per session."""
    from tlcore.config import TrainConfig
    from tlcore.jobs.train import create_run, execute

    folder = tmp_path_factory.mktemp("trained") / "20250101-000000-efficientnet_lite0"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("trained-workspace")))
        cfg = TrainConfig(data=str(fashion_small / "train"), test_data=str(fashion_small / "test"), **TINY)
        run = create_run(cfg, folder)
        assert execute(run.path) == "finished"
    return folder


@pytest.fixture
def workspace_run(trained_run) -> str:
    """A copy of the finished tiny run inside this test's workspace, as the Runs page lists it, with
    its images copied in too (the studio starts no run that reads files outside the workspace)."""
    from dataclasses import replace

    from tlcore.rundir import RunDir
    from tlcore.workspace import datasets_dir, runs_dir

    target = runs_dir() / trained_run.name
    shutil.copytree(trained_run, target)
    run = RunDir(target)
    record = run.record()
    moved = {}
    for setting in ("data", "test_data"):
        moved[setting] = str(datasets_dir() / "fashion-small" / Path(getattr(record.config, setting)).name)
        shutil.copytree(getattr(record.config, setting), moved[setting])
    run.write_record(replace(record, config=record.config.with_(**moved), requested=record.requested.with_(**moved)))
    return str(target)


@pytest.fixture
def digits() -> str:
    """The digits sample (10 classes x 10 images) stored in this test's workspace; its folder."""
    from tlcore.data import samples, store

    return store.dataset_folder(samples.load_sample("digits", per_class=10))


@pytest.fixture
def tiny_digits() -> str:
    """The digits sample at 5 images a class, stored in this test's workspace; its folder."""
    from tlcore.data import samples, store

    return store.dataset_folder(samples.load_sample("digits", per_class=5))
