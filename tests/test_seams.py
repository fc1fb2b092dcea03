"""The seams between the engine, the worker and the pages: a sweep's or curve's folder known to one
class, the worker's command line written and read in one place, a bundle's files named in one place."""

import re
from pathlib import Path

import pytest

from tlcore import cli
from tlcore.config import TrainConfig
from tlcore.jobs.command import WorkerCommand
from tlcore.rundir import RunDir
from tlcore.studio import list_curves as curves, list_sweeps as sweeps
from tlcore.studydir import StudyDir
from tlcore.workspace import curves_dir, sweeps_dir

ROOT = Path(__file__).resolve().parents[1]


def test_a_study_folder_keeps_its_request_and_rows_and_the_studio_lists_it():
    base = TrainConfig(data="/images/flowers", epochs=2)
    study = StudyDir.create(sweeps_dir(), "sweep", base, depths=[0, 2], from_scratch=True)
    assert study.requested() and study.config() == base and study.planned == 3
    assert study.run_path(2, False).name == "depth-2" and study.run_path(7, True).name == "scratch"
    [listed] = sweeps()
    assert listed["path"] == str(study.path) and listed["rows"] == [] and not listed["done"]
    study.write_rows([{"strategy": "a"}, {"strategy": "b"}, {"strategy": "c"}])
    assert sweeps()[0]["done"] and [r["strategy"] for r in StudyDir(study.path, "sweep").rows()] == ["a", "b", "c"]
    curve = StudyDir.create(curves_dir(), "curve", base)
    curve.write_rows([{"fraction": 0.25}])
    assert [c["path"] for c in curves(base.data)] == [str(curve.path)] and curves("/other/images") == []
    assert curve.point_path(0.25).name == "25pct" and curve.rows_path != study.rows_path


def test_what_the_launchers_write_the_worker_reads_back():
    for command in (WorkerCommand("run", Path("/runs/a b")), WorkerCommand("sweep", Path("/s/request.json")),
                    WorkerCommand("curve", Path("/c/request.json"))):
        assert WorkerCommand.parse(command.args()) == command
        parsed = cli._parser().parse_args(command.args())  # a fresh worker: the command line's own parser
        assert parsed.command == command.job and Path(getattr(parsed, "run", "") or parsed.request) == command.target
    torchrun = WorkerCommand("run", Path("/runs/x")).args(positional=True)
    assert torchrun == ["run", "/runs/x"] and WorkerCommand.parse(torchrun).target == Path("/runs/x")
    assert cli._parser().parse_args(torchrun).folder == "/runs/x"
    with pytest.raises(ValueError):
        WorkerCommand("train", Path("/x")).args()


def test_a_bundle_s_files_are_named_in_one_place(tmp_path):
    run = RunDir(tmp_path)
    assert run.bundle.folder == run.bundle_path == run.bundle.weights.parent == run.bundle.meta.parent
    spelled = re.compile(r'/ "bundle"|"model\.(safetensors|json)"|"(summary|curve|request)\.json"')
    files = [p for folder in ("tlcore", "pages") for p in sorted((ROOT / folder).rglob("*.py"))
             if p.name not in ("bundle_paths.py", "studydir.py", "text_net.py")]  # text_net: a text model's own file
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in files
                 for n, line in enumerate(p.read_text().splitlines(), 1) if spelled.search(line)]
    assert not offenders, offenders
