"""tlcore's imports: no module reaches itself through others (function-level imports included), so
the app-side launchers and the worker-side jobs stay apart; and no module imports Streamlit."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import tlcore

PACKAGE = Path(tlcore.__file__).parent
FILES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    """A file's module name inside tlcore ("rundir", "jobs.pool"; a package's __init__ is the package)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts) or "__init__"


def _package(path: Path) -> str:
    """The package a file's relative imports start from ("" for tlcore itself)."""
    return ".".join(path.relative_to(PACKAGE).parts[:-1])


MODULES = {_name(p) for p in FILES}


def _imports(path: Path, package: str = "") -> tuple[set[str], set[str]]:
    """The tlcore modules and the top-level outside packages a file imports, at any depth (inside
    functions too); a name imported from a module (``from tlcore.jobs.pool import hold``) counts
    as that module, and ``from tlcore import __version__`` as tlcore itself ("__init__")."""
    own, outside = set(), set()

    def add(dotted: str) -> None:
        parts = dotted.split(".")
        if parts[0] != "tlcore":
            outside.add(parts[0])
            return
        name = ".".join(parts[1:])
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        own.add(name or "__init__")

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside tlcore
                base = ".".join(filter(None, ["tlcore", package, node.module]))
            else:
                base = node.module or ""
            for alias in node.names:
                add(f"{base}.{alias.name}")
    own.discard(_name(path) if path.is_relative_to(PACKAGE) else path.stem)
    return own, outside


GRAPH = {_name(p): _imports(p, _package(p))[0] for p in FILES}


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
    source.write_text("import tlcore.rundir\nfrom tlcore.data import store\nfrom tlcore import __version__, jobs\n"
                      "from tlcore.jobs.runs import x\nfrom . import sweep\nfrom .curve import y\n"
                      "import streamlit as st\ndef f():\n    from tlcore.cli import main\n    import plotly.express\n")
    own, outside = _imports(source, package="jobs")
    assert own == {"rundir", "data.store", "__init__", "jobs", "jobs.runs", "jobs.sweep", "jobs.curve", "cli"}
    assert outside == {"streamlit", "plotly"}


def test_cycle_finder_names_the_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_tlcore_has_no_import_cycle():
    cycle = _cycle(GRAPH)
    assert not cycle, "tlcore imports itself in a circle: " + " -> ".join(cycle)


def test_tlcore_never_imports_streamlit():
    offenders = sorted(_name(p) for p in FILES if "streamlit" in _imports(p)[1])
    assert not offenders, f"tlcore must not import Streamlit: {offenders}"


def test_every_benchmark_script_imports(monkeypatch):
    """bench/ is not part of the package and no test runs it, so a name it takes from tlcore that
    moves would otherwise go unnoticed until the next measurement."""
    root = PACKAGE.parent
    monkeypatch.syspath_prepend(str(root))
    scripts = sorted((root / "bench").glob("*.py"))
    assert {p.stem for p in scripts} >= {"anchor", "datasets", "judge_calibration", "judge_leakage", "measure",
                                         "quality", "run"}
    for path in scripts:
        importlib.import_module(f"bench.{path.stem}")


def _reached(start: str) -> set[str]:
    """Every tlcore module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_training_engine_never_reaches_a_run_folder():
    """tlcore.training loads, trains, checkpoints and scores through a Reporter and return values;
    only tlcore.jobs writes a run folder (tlcore.rundir)."""
    folder = lambda m: m == "rundir" or m == "jobs" or m.startswith("jobs.")
    training = sorted(m for m in GRAPH if m.startswith("training."))
    assert "training.inputs" in training and "training.report" in training
    offenders = {m: sorted(filter(folder, _reached(m))) for m in training}
    assert not any(offenders.values()), {m: v for m, v in offenders.items() if v}
    assert folder("rundir") and any(map(folder, _reached("jobs.recorder")))  # the check sees a folder when there is one
