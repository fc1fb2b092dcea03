"""The front door: the pages and app.py reach the engine only through tlcore.studio (imports
inside functions included), and tlcore.studio offers what it lists without loading Streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tlcore.studio

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
# The Strategy and Train pages move onto the front door with the plan helper's "one decision";
# the lead removes this set when both branches are merged.


def tlcore_imports(source: str) -> set[str]:
    """The tlcore modules a file's code imports, at any depth: ``from tlcore.x import y`` is
    tlcore.x, ``from tlcore import x`` is tlcore.x, ``import tlcore.x.y`` is tlcore.x.y."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tlcore"}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module == "tlcore":
                found |= {f"tlcore.{a.name}" for a in node.names}
            elif node.module.split(".")[0] == "tlcore":
                found.add(node.module)
    return found


def test_the_walker_sees_every_form_of_import():
    source = ("import tlcore.rundir\nfrom tlcore import workspace\nfrom tlcore.studio import RunDir\n"
              "from pages import ui\nimport streamlit as st\ndef f():\n    from tlcore.jobs.runs import x\n")
    assert tlcore_imports(source) == {"tlcore.rundir", "tlcore.workspace", "tlcore.studio", "tlcore.jobs.runs"}


def test_pages_and_app_import_only_the_front_door():
    assert {p.name for p in UI_FILES} >= {"strategy.py", "train.py", "ui.py", "model.py", "use.py", "app.py"}
    offenders = {f"{p.relative_to(ROOT)}: {sorted(found)}" for p in UI_FILES
                 if (found := tlcore_imports(p.read_text()) - {"tlcore.studio"})}
    assert not offenders, f"pages must import tlcore only as `from tlcore.studio import ...`: {sorted(offenders)}"


def test_every_name_the_front_door_lists_is_there():
    assert len(tlcore.studio.__all__) == len(set(tlcore.studio.__all__))
    missing = [name for name in tlcore.studio.__all__ if not hasattr(tlcore.studio, name)]
    assert not missing, f"tlcore.studio lists names it does not have: {missing}"


def test_the_front_door_loads_no_streamlit_and_the_log_in_check_no_pytorch():
    """tlcore.studio imports no Streamlit (nor does any tlcore module it reaches: test_imports); the
    password helpers the navigation draws first load without PyTorch, so the seven steps show
    before the engine has loaded."""
    studio = Path(tlcore.studio.__file__).parent
    assert not [p.name for p in studio.glob("*.py") if "streamlit" in {
        (n.module or "").split(".")[0] if isinstance(n, ast.ImportFrom) else a.name.split(".")[0]
        for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names}]
    code = ("import sys\nfrom tlcore.studio import GUESSES, password_problem\n"
            "assert not {'torch', 'streamlit'} & set(sys.modules), sorted({'torch', 'streamlit'} & set(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
