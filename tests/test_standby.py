"""The warm start: a standby worker takes the next run and trains it exactly as a fresh one would."""

import subprocess
import sys

import pytest
from polling import wait_for

from tlcore import cli

from tlcore.jobs import entry as jobs, runs, standby, worker
from tlcore.atomic import atomic_write_json, read_json
from tlcore.config import DEFAULT_MODEL, FASTEST, TrainConfig
from tlcore.models.catalog import get_spec
from tlcore.processes import process_start
from tlcore.training.embed import embedder_key, kept_graph
from tlcore.workspace import standby_dir


@pytest.fixture
def warm(monkeypatch):
    monkeypatch.setenv("TLSTUDIO_STANDBY", "1")
    yield monkeypatch
    standby.shutdown()


def _finish(run, timeout: float = 300):
    wait_for(lambda: run.status().state not in ("queued", "running"), timeout, explain=run.status)
    assert run.status().state == "finished", run.log_path.read_text()


def _ready_pids() -> list[int]:
    return [int(p.stem) for p in standby_dir().glob("*.ready")]


@pytest.mark.slow
def test_a_standby_takes_the_next_run_and_gives_the_same_result(warm, fashion_small):
    worker.keep_warm()
    worker.keep_warm()  # a second call while it prepares starts no other
    assert len(list(standby_dir().glob("*.starting"))) == 1
    assert standby.wait_ready(180), (standby_dir() / "standby.log").read_text()
    [pid] = _ready_pids()
    spec = get_spec(DEFAULT_MODEL)  # it made the graph a default run on this processor asks for
    assert kept_graph(embedder_key(FASTEST, spec.name, spec.size_on("cpu"))).exists()
    cfg = TrainConfig(data=str(fashion_small / "train"), seed=0, epochs=3)
    warm_run = runs.start_run(cfg)
    _finish(warm_run)
    assert warm_run.status().pid == pid
    # The job's output went to its own log (its last line is printed just after the status says finished).
    wait_for(lambda: "state: finished" in warm_run.log_path.read_text(), 30, explain=warm_run.log_path.read_text)
    assert standby.available() and pid not in _ready_pids()  # a new one replaces it

    warm.setenv("TLSTUDIO_STANDBY", "0")
    cold_run = runs.start_run(cfg)
    _finish(cold_run)
    assert cold_run.status().pid != pid
    for name in ("metrics.json", "predictions.csv"):
        assert (warm_run.path / name).read_bytes() == (cold_run.path / name).read_bytes(), name


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_job_goes_to_one_live_standby_of_the_current_code(warm, tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    outdated, current = _sleeper(), _sleeper()
    try:
        atomic_write_json(standby_dir() / f"{gone.pid}.ready", {"fingerprint": standby.fingerprint(), "start": 1})
        atomic_write_json(standby_dir() / f"{outdated.pid}.ready",
                          {"fingerprint": "older code", "start": process_start(outdated.pid)})
        atomic_write_json(standby_dir() / f"{current.pid}.ready",
                          {"fingerprint": standby.fingerprint(), "start": process_start(current.pid)})
        log = tmp_path / "worker.log"
        assert standby.hand_over(["models"], log, wait=0.1) == current.pid
        assert read_json(standby_dir() / f"{current.pid}.job") == {"args": ["models"], "log": str(log)}
        assert standby.hand_over(["models"], log, wait=0.1) is None  # the only good one is taken
        assert outdated.wait(timeout=10) != 0  # an idle standby of older code is stopped
        assert not list(standby_dir().glob("*.ready"))
    finally:
        for proc in (outdated, current):
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_an_unclaimed_standby_leaves_after_its_idle_time(warm):
    proc = subprocess.Popen([sys.executable, "-c", "from tlcore.jobs.standby import serve; raise SystemExit(serve(1.0))"])
    assert proc.wait(timeout=300) == 0
    assert not list(standby_dir().glob(f"{proc.pid}.*"))  # nothing left that a launcher could claim


@pytest.mark.parametrize("command", ["sweep", "curve"])
def test_a_job_ends_the_same_in_a_standby_as_on_the_command_line(tmp_path, capsys, command):
    request = tmp_path / "request.json"
    atomic_write_json(request, {"config": {"data": str(tmp_path), "colour": "blue"}, "depths": [0],
                                "from_scratch": False, "created": 0})
    argv = [command, "--request", str(request)]
    assert jobs.main(argv) == 2  # what a standby runs
    said = capsys.readouterr().err
    assert said == "error: Unknown setting(s) in the run configuration: colour.\n"
    assert cli.main(argv) == 2  # what a fresh worker runs
    assert capsys.readouterr().err == said
