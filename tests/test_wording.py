"""The hostile tests take the sentences they check from where the studio says them (named constants,
see tests/wording.py), so a change of wording is one edit. This test reads their source and lists every
string literal of six words or more that is not a docstring: each must be one of the allowed ones below,
which are not the studio's wording (code, test data, a library's words) or whose source another piece
of work is changing now (kept here until it has a constant). An allowed text no test holds any longer
must go from the list, so the list cannot grow stale."""

import ast
from pathlib import Path

import pytest

from wording import line, pattern

TESTS = Path(__file__).parent
MIN_WORDS = 6

NOT_WORDING = (  # code run in a subprocess or a browser, test data, skip reasons, case names, libraries' words
    "mounting a small disk needs root and permission to mount",
    "remounting a disk read-only needs root",
    "\nimport sys, time\nfrom pathlib import Path\nfrom tlcore.atomic import temp_beside\nwith temp_beside("
    "Path(sys.argv[1])) as tmp:\n    tmp.write_bytes(bytes(1 << 20))\n    print(tmp.name, flush=True)\n"
    "    time.sleep(120)\n",
    "1,000,000 x 40 (40 MP, absurd shape)",
    '{"model": "efficientnet_lite0", "image_size": 64, "classes": ["a", "b"]}',
    "error: the following arguments are required: --out",  # argparse's own words
    "error: argument --top: invalid int value: 'three'",
    "error: argument command: invalid choice: 'trian'",
    "no other process comes (rank 0)",
    "no first process answers (rank 1)",
    "error: \\x1b]0;owned\\x07 is not a folder.\n",
    'import sys, time\nfrom tlcore.rundir import RunDir\nrun = RunDir(sys.argv[1])\nwith run.worker_lock():\n'
    '    run.set_status("running", message="Training: epoch 1 of 3", epoch=1)\n    time.sleep(60)\n',
    "import tlcore.jobs.standby as s; s.prepare = lambda: None; raise SystemExit(s.serve(60))",
    "from tlcore.jobs import worker; from tlcore.workspace import standby_dir; worker.keep_warm(); [path] = "
    "standby_dir().glob('*.starting'); print(path.stem, path.read_text())",
    "\nimport sys\nsys.path.insert(0, {root!r})\nimport streamlit as st\nfrom tlcore.markdown import escape\n"
    "for i, s in enumerate({nasty!r}):\n    st.markdown(f\"ITEM{{i}} \" + escape(s))\n"
    "    st.button(f\"ITEM{{i}} \" + escape(s), key=f\"b{{i}}\")\n",
    "a, img, .katex, span[role=img], strong, em, code, h1, h2, li, del, table, span[style*=color]",
    "import sys, tlcore.markdown; assert 'streamlit' not in sys.modules",
    "live => [...document.querySelectorAll('[data-testid=stMarkdownContainer]')]\n"
    "                .map(e => [e.innerText, e.querySelectorAll(live).length])",
    "HTML in the chart {}: {}",
    "{} is missing (apt-get install chromium)",
    "Loaded: 'my images' with 2 classes.",  # a name md_safe must leave alone
    "ONNX Runtime differs from PyTorch by",  # the log of tlcore.training.embed, for whoever runs the studio
    "its contents are not the ones recorded when it was made",
    "Not reusing the kept ONNX model {} ({}",
    "ONNX Runtime differs from PyTorch by 5.00e-01 on 1 inputs",
    "Wrong studio password from this computer (1 in a row); its next guess waits 1 s",  # tlcore.sharing's log
    "Wrong studio password from this computer (2 in a row); its next guess waits 2 s",
    "The delivery was late again and the box was damaged. ",
)
IN_OTHER_HANDS = (  # said in modules another piece of issue 26 is editing (pages, config, studio)
    "**Images:** {} (2 classes, 6 images)",
    "Train again with the same settings",
    "Not started: this run reads its images from outside the studio's folder",
    "Not started: this run reads its images",
    "The seed must be a whole number from 0 to {}, not {}.",
    "Not kept from your last session: seed; its value could not be used here, so the default is used instead.",
)


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def long_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal in ``source`` with MIN_WORDS words or more, docstrings left
    out; an f-string is read with {} for each value it puts in."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    skip |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        else:
            continue
        if len(text.split()) >= MIN_WORDS:
            found.append((node.lineno, text))
    return found


def test_hostile_tests_take_their_sentences_from_the_studio():
    held = {}
    for path in sorted(TESTS.glob("test_hostile_*.py")):
        for lineno, text in long_literals(path.read_text(encoding="utf-8")):
            held.setdefault(text, f"{path.name}:{lineno}")
    allowed = set(NOT_WORDING) | set(IN_OTHER_HANDS)
    pinned = {where: text for text, where in held.items() if text not in allowed}
    assert not pinned, "import the sentence's constant from where it is said instead of writing it out"
    assert not allowed - set(held), "no test holds these any longer: take them off the lists"


def test_the_scan_finds_a_sentence_written_out_and_passes_one_imported():
    written = 'def test_x():\n    """A docstring of more than six words is left out."""\n' \
              '    assert str(err) == f"The class name {name} is too long; use at most 100."\n'
    assert long_literals(written) == [(3, "The class name {} is too long; use at most 100.")]
    assert long_literals("from tlcore.data.store import LONG_CLASS_NAME\nassert x == LONG_CLASS_NAME.format(a=1)\n") == []


@pytest.mark.parametrize("template, values, shown, matches", [
    ("{name} is empty; zip it again.", {"name": "a.zip"}, "a.zip is empty; zip it again.", True),
    ("{name} is empty; zip it again.", {"name": "a.zip"}, "b.zip is empty; zip it again.", False),
    ("{name} grew to {size} ({n:,} files).", {"n": 1200}, "x grew to 2 MB (1,200 files).", True),
    ("{name} grew to {size} ({n:,} files).", {"n": 1200}, "x grew to 2 MB (1200 files).", False),
    ("{{literal}} at {share:.0%}", {"share": 0.5}, "{literal} at 50%", True),
])
def test_a_template_matches_what_it_formats_and_nothing_else(template, values, shown, matches):
    import re

    assert bool(re.match(line(template, **values), shown)) is matches
    assert re.match(pattern(template), template.format(**{"name": "n", "size": "s", "n": 3, "share": 0.1}))
