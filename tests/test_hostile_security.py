"""Hostile input and exposure: names that try to be Markdown, and run settings that point outside the
workspace (who can open the studio: tests/test_hostile_access.py)."""

import io
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import ROOT, TINY, charts, png, studio, texts
from pools import zipped
from PIL import Image
from streamlit.testing.v1 import AppTest

from pages import ui
from tlcore.data import samples, store
from tlcore.jobs import runs
from tlcore.config import TrainConfig
from tlcore.markdown import escape
from tlcore.paths import outside_workspace
from tlcore.rundir import RunDir
from tlcore.workspace import runs_dir, workspace_dir

EVIL_ZIP = "Holiday ![x](https:evil.example) [Sign in again](https:evil.example).zip"
EVIL_CLASSES = ["[Sign in](https:evil.example)", ":red[alert] <img src=x> $x$ www.evil.example"]
EVIL_RUN = "20250101-000000-[Sign in](https:evil.example)"
NASTY = ["[a](b)", "![x](y)", "<img src=x>", ":red[x]", ":material/home:", ":material_home:", "$x$",
         "**bold**", "# head", "- item", "1. item", "`code`", "https://evil.example", "|a|b|",
         "www.evil.example", "x@evil.example", ":streamlit:", "~~gone~~", "_it_", "&lt;b&gt;", "back\\slash"]
# What Streamlit's Markdown would turn into a link, an image, HTML, an icon, a colour or LaTeX.
LIVE = [(r"(?<!\\)!\[", "image"), (r"(?<!\\)\]\(", "link"), (r"(?i)https?://|www\.", "bare URL"),
        (r"(?<!\\)<[a-z/!]", "HTML"), (r":red\[|:material(/home|_)|:streamlit:", "directive or icon"),
        (r"(?<!\\)\$", "LaTeX"), (r"[\w.]@[\w]", "e-mail autolink")]
MARKDOWN_TYPES = {"markdown", "caption", "title", "header", "subheader", "success", "info", "warning", "error"}


def _unescape(text: str) -> str:
    """What Streamlit shows for escaped text: CommonMark backslash escapes and word joiners gone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u2060", "")


def _rendered(at: AppTest, skip_expander: str = "") -> list[str]:
    """Every string on the page that Streamlit renders as Markdown: Markdown, captions, headings and
    alerts, widget and tab labels, help tooltips, image captions (not dataframe cells, not
    selectbox options, not typed values: those are shown as plain text)."""
    out = []

    def walk(node) -> None:
        kind = getattr(node, "type", None)
        if kind == "expander" and skip_expander and node.label == skip_expander:
            return
        if kind in MARKDOWN_TYPES:
            out.append(node.value)
        for attr in ("label", "help"):
            if isinstance(getattr(node, attr, None), str):
                out.append(getattr(node, attr))
        if kind == "image":
            out.extend(i.caption for i in node.proto.imgs)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    return [s for item in obj for s in _strings(item)] if isinstance(obj, (list, tuple)) else []


CODE_SPAN = re.compile(r"(?<!\\)`[^`]*(?<!\\)`")


def _assert_inert(at: AppTest, skip_expander: str = "") -> None:
    assert not at.exception
    for text in _rendered(at, skip_expander):
        text = CODE_SPAN.sub("", text)  # shown as written; an escaped backtick opens none
        for pattern, what in LIVE:
            assert not re.search(pattern, text), f"{what} in rendered Markdown: {text!r}"
    for title, fig in charts(at).items():  # plotly draws <a href>, <b>, <img …> in any label
        html = [s for s in _strings(fig.to_plotly_json()) if re.search(r"<(img|a\s|b>)", s)]
        assert not html, f"HTML in the chart {title!r}: {html}"


# --- the escaping rule ---------------------------------------------------------------------------

@pytest.mark.parametrize("nasty", NASTY)
def test_md_safe_shows_nasty_text_as_written_and_inert(nasty):
    safe = ui.md_safe(nasty)
    assert _unescape(safe) == nasty  # only backslashes and invisible word joiners were added
    for pattern, what in LIVE:
        assert not re.search(pattern, safe), f"{what} left in {safe!r}"
    assert not re.match(r"\s*([-+#>]|\d+[.)])", safe)  # no heading, list or quote at the start
    assert not re.search(r"(?<!\\)[*`~|]|(?<![\\\w])_|(?<!\\)&", safe)  # no emphasis, code, table or entity


CHROMIUM = Path("/usr/bin/chromium")
NASTY_PAGE = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from tlcore.markdown import escape
for i, s in enumerate({nasty!r}):
    st.markdown(f"ITEM{{i}} " + escape(s))
    st.button(f"ITEM{{i}} " + escape(s), key=f"b{{i}}")
"""
LIVE_ELEMENTS = "a, img, .katex, span[role=img], strong, em, code, h1, h2, li, del, table, span[style*=color]"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")
def test_streamlit_in_a_browser_renders_escaped_text_as_written_and_nothing_else(tmp_path):
    """The real check: Streamlit's own Markdown renderer in Chromium, for Markdown and button labels."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    script = tmp_path / "nasty.py"
    script.write_text(NASTY_PAGE.format(root=str(ROOT), nasty=NASTY))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health")
                break
            except OSError:
                time.sleep(0.25)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.locator("button").filter(has_text=f"ITEM{len(NASTY) - 1} ").wait_for(timeout=60_000)
            shown = page.evaluate("""live => [...document.querySelectorAll('[data-testid=stMarkdownContainer]')]
                .map(e => [e.innerText, e.querySelectorAll(live).length])""", LIVE_ELEMENTS)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    items = [(text.replace("\u2060", ""), live) for text, live in shown if text.startswith("ITEM")]
    assert items == [(f"ITEM{i} {s}", 0) for i, s in enumerate(NASTY) for _ in range(2)]


@pytest.mark.parametrize("plain", ["digits sample (10 per class)", "20250101-000000-efficientnet_lite0",
                                   "Loaded: 'my images' with 2 classes.", "IMG 001.jpg"])
def test_md_safe_leaves_ordinary_names_alone(plain):
    assert ui.md_safe(plain) == plain


def test_md_safe_keeps_a_name_on_one_line():
    assert ui.md_safe("a\n# b\r\n- c") == "a \\# b - c"  # "-" inside a line starts no list


def test_the_card_can_escape_without_streamlit():
    assert ui.md_safe is escape
    code = "import sys, tlcore.markdown; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- hostile names through the pages -------------------------------------------------------------

def test_a_hostile_zip_imports_and_shows_inert_everywhere():
    data = zipped({f"{c}/{i}.png": png(40 * j + 10 * i) for j, c in enumerate(EVIL_CLASSES) for i in range(3)})
    at = studio()
    at.file_uploader[0].set_value((EVIL_ZIP, data, "application/zip")).run()
    next(b for b in at.button if b.label == "Import this zip").click()
    at.run()
    assert not at.error
    name = Path(EVIL_ZIP).stem
    assert store.open_dataset(at.session_state[ui.DATASET]).name == name  # stored as it was called
    assert any(_unescape(m) == f"**Images:** {name} (2 classes, 6 images)" for m in texts(at.sidebar.markdown).splitlines())
    assert any(_unescape(h.value) == f"Check of '{name}'" for h in at.header)
    assert {_unescape(m.value) for m in at.markdown} >= {f"**{c}** · 3 images" for c in EVIL_CLASSES}
    _assert_inert(at)
    for page in ("model", "runs"):  # the sidebar on other pages; Runs names the images for a sweep
        at.switch_page(str(ROOT / "pages" / f"{page}.py")).run()
        _assert_inert(at)


def test_hostile_class_names_typed_on_the_data_page_are_inert():
    at = studio()
    at.text_input(key="opt_class_names").set_value(", ".join(["**x**", "![x](https:evil.example)"])).run()
    at.toggle[0].set_value(True).run()
    at.camera_input[0].set_value(("shot.jpg", png(5, fmt="JPEG"), "image/jpeg")).run()
    assert "Images of '\\*\\*x\\*\\*'" in [u.label for u in at.file_uploader]
    _assert_inert(at)


def _noise(seed: int, size: int = 48) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """A finished tiny run on noise images in two classes with hostile names (so it makes mistakes)."""
    from tlcore.jobs.train import create_run, execute

    data = tmp_path_factory.mktemp("hostile-data")
    for j, c in enumerate(EVIL_CLASSES):
        (data / c).mkdir()
        for i in range(8):
            (data / c / f"{i}.png").write_bytes(_noise(100 * j + i))
    folder = tmp_path_factory.mktemp("hostile") / EVIL_RUN
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("hostile-workspace")))
        run = create_run(TrainConfig(data=str(data), **{**TINY, "epochs": 1}), folder)
        assert execute(run.path) == "finished"
    return folder


@pytest.fixture
def hostile_workspace_run(hostile_run) -> str:
    target = runs_dir() / hostile_run.name
    shutil.copytree(hostile_run, target)
    return str(target)


def test_hostile_run_and_class_names_are_inert_on_evaluate(hostile_workspace_run):
    at = studio("evaluate", **{ui.RUN: hostile_workspace_run})
    assert at.title[0].value == "How good is the model?"
    captions = [_unescape(c.value) for c in at.caption]
    assert any(c.startswith(f"is **{EVIL_CLASSES[0]}**") or c.startswith(f"is **{EVIL_CLASSES[1]}**")
               for c in captions)  # the mistakes gallery names the classes, as written
    _assert_inert(at)


CARD = "Read the model card"


def test_hostile_file_and_class_names_are_inert_on_use(hostile_workspace_run):
    at = studio("use", **{ui.RUN: hostile_workspace_run})
    at.file_uploader[0].set_value(("[Sign in](https:evil.example).png", _noise(1), "image/png")).run()
    answers = [_unescape(m.value) for m in at.markdown if m.value.startswith("### ")]
    assert len(answers) == 1 and any(c in answers[0] for c in EVIL_CLASSES)
    _assert_inert(at, skip_expander=CARD)
    broken = ("![x](https:evil.example).png", b"not an image", "image/png")
    at.file_uploader[0].set_value([broken, ("ok.png", _noise(2), "image/png")]).run()
    assert len(at.error) == 1 and _unescape(at.error[0].value).startswith("![x](https:evil.example).png")
    _assert_inert(at, skip_expander=CARD)


def test_the_model_card_names_classes_inertly(hostile_workspace_run):
    from tlcore.use.card import model_card

    card = re.sub(r"```.*?```", "", model_card(RunDir(hostile_workspace_run)), flags=re.S)  # code shows as written
    assert not any(c in card for c in EVIL_CLASSES)


def test_hostile_run_names_and_tags_are_inert_on_runs(hostile_workspace_run):
    child = Path(hostile_workspace_run).with_name("20250102-000000-**child** <b>x")
    shutil.copytree(hostile_workspace_run, child)
    RunDir(child).write_record(replace(RunDir(child).record(), parent=hostile_workspace_run))
    RunDir(hostile_workspace_run).set_title(EVIL_RUN)  # names a user typed, shown as written
    RunDir(child).set_title(child.name)
    at = studio("runs")
    table = at.dataframe[0].value  # dataframe cells are plain text: shown as written, unescaped
    assert set(table["Run"]) == {EVIL_RUN, child.name}
    at.selectbox(key="runs_pick").set_value(hostile_workspace_run).run()
    assert any(_unescape(b.label) == f"Trained again as {child.name}" for b in at.button)
    at.text_input(key=f"tags_{EVIL_RUN}").set_value("[click](https:evil.example), :red[x]")
    next(b for b in at.button if b.label == "Save tags").click()
    at.run()
    assert f"Tags of run {EVIL_RUN} saved." in [_unescape(s.value) for s in at.success]
    table = at.dataframe[0].value.set_index("Run")
    assert table.loc[EVIL_RUN, "Tags"] == "[click](https:evil.example), :red[x]"
    _assert_inert(at)
    at.selectbox(key="runs_pick").set_value(str(child)).run()
    assert any(_unescape(b.label) == f"Made from {EVIL_RUN}" for b in at.button)
    _assert_inert(at)


# --- run settings that point outside the workspace ----------------------------------------------

def test_outside_workspace_names_each_setting_that_leaves_it(tmp_path, digits):
    inside = TrainConfig(data=digits)
    assert outside_workspace(inside) == []
    assert outside_workspace(inside.with_(weights="none")) == []
    escape_hatch = workspace_dir() / "datasets" / "link"
    escape_hatch.symlink_to(tmp_path)  # a link inside that leads out
    sneaky = inside.with_(test_data=str(escape_hatch), init_from=f"{workspace_dir()}/../elsewhere",
                          weights="/etc/passwd")
    assert outside_workspace(sneaky) == ["test_data", "init_from", "weights"]
    assert outside_workspace(inside.with_(data=str(tmp_path))) == ["data"]


def test_train_again_refuses_a_run_whose_images_are_outside_the_workspace(hostile_workspace_run):
    # the run was made outside the studio, on images in another folder
    before = sorted(p.name for p in runs_dir().iterdir())
    at = studio("runs")
    next(b for b in at.button if b.label == "Train again with the same settings").click()
    at.run()
    assert not at.exception and at.title[0].value == "All runs"
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert _unescape(at.error[0].value).startswith(
        "Not started: this run reads its images from outside the studio's folder")
    assert sorted(p.name for p in runs_dir().iterdir()) == before and not at.session_state[ui.RUN]


def test_the_train_page_refuses_images_outside_the_workspace(tmp_path, monkeypatch, hostile_workspace_run):
    with monkeypatch.context() as mp:  # a dataset stored in another workspace
        mp.setenv("TLSTUDIO_HOME", str(tmp_path))
        elsewhere = store.dataset_folder(samples.load_sample("digits", per_class=5))
    settings = {f"opt_{k}": v for k, v in TINY.items() if k not in ("model", "trainable_stages")}
    at = studio("train", **{ui.DATASET: elsewhere, ui.INIT_FROM: hostile_workspace_run, "opt_stages": 0, **settings})
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    assert len(at.error) == 1 and _unescape(at.error[0].value).startswith("Not started: this run reads its images")
    _assert_inert(at)  # the summary names the run it starts from
    assert [r["name"] for r in runs.list_runs()] == [EVIL_RUN] and not at.session_state[ui.RUN]
