"""tlcore's imports: no module reaches itself through others (function-level imports included), so
the app-side launchers and the worker-side jobs stay apart; and no module imports Streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

import tlcore

PACKAGE = Path(tlcore.__file__).parent
MODULES = {p.stem for p in PACKAGE.glob("*.py")}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """The tlcore modules and the top-level outside packages a file imports, at any depth (inside
    functions too); ``from tlcore import x`` names module x when there is one, else tlcore itself."""
    own, outside = set(), set()

    def add(dotted: str) -> None:
        parts = dotted.split(".")
        if parts[0] != "tlcore":
            outside.add(parts[0])
        else:
            own.add(parts[1] if len(parts) > 1 and parts[1] in MODULES else "__init__")

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            base = f"tlcore.{module}".rstrip(".") if node.level else module  # relative: inside tlcore
            if base == "tlcore":
                for alias in node.names:
                    add(f"tlcore.{alias.name}")
            else:
                add(base)
    own.discard(path.stem)
    return own, outside


GRAPH = {p.stem: _imports(p)[0] for p in PACKAGE.glob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] when there is none (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_walker_sees_every_form_of_import(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("import tlcore.rundir\nfrom tlcore import store, __version__\nfrom tlcore.runs import x\n"
                      "from . import sweep\nfrom .curve import y\nimport streamlit as st\n"
                      "def f():\n    from tlcore.cli import main\n    import plotly.express\n")
    own, outside = _imports(source)
    assert own == {"rundir", "store", "__init__", "runs", "sweep", "curve", "cli"}
    assert outside == {"streamlit", "plotly"}


def test_cycle_finder_names_the_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_tlcore_has_no_import_cycle():
    cycle = _cycle(GRAPH)
    assert not cycle, "tlcore imports itself in a circle: " + " -> ".join(cycle)


def test_tlcore_never_imports_streamlit():
    offenders = sorted(p.name for p in PACKAGE.glob("*.py") if "streamlit" in _imports(p)[1])
    assert not offenders, f"tlcore must not import Streamlit: {offenders}"
