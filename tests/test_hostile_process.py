"""Hostile conditions around worker processes: killed or told to end, started twice on one run,
damaged checkpoints, and standby pid files that do not name a standby of ours. Each case checks
what the user sees (one plain line) and that nothing saved before was changed."""

import contextlib
import fcntl
import functools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app_fixtures import TINY
from polling import wait_for
from tlcore.jobs import interrupt, standby, worker
from tlcore.jobs import recorder
from tlcore.jobs.checkpoint import LOST_ALL, LOST_LATEST
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.processes import pid_alive, process_start
from tlcore.rundir import RunDir
from tlcore.jobs.train import WAITING, create_run, execute
from tlcore.workspace import locks_dir, standby_dir

ROOT = Path(__file__).resolve().parent.parent
KEPT = ("metrics.json", "predictions.csv", "bundle/model.safetensors")


def _cfg(fashion_small, **changes) -> TrainConfig:
    """A run with nothing left to the recommender, so that a resumed run replays it exactly."""
    return TrainConfig(data=str(fashion_small / "train"), **{**TINY, "epochs": 3, "evaluation": "holdout", **changes})


_wait = functools.partial(wait_for, every=0.05)  # seconds until it held, to a twentieth of a second


def _plain(text: str) -> None:
    """One plain line: no traceback, no exception class name, no path."""
    assert text and "\n" not in text.strip(), text
    assert "Traceback" not in text and "/" not in text, text
    assert not re.search(r"[A-Z]\w*(Error|Exception|Interrupt)\b", text), text


def _snapshot(run: RunDir) -> dict[str, bytes]:
    """Every file of the run folder (the lock file holds nothing)."""
    return {str(p.relative_to(run.path)): p.read_bytes() for p in sorted(run.path.rglob("*"))
            if p.is_file() and p.name != "worker.lock"}


@pytest.fixture(scope="module", autouse=True)
def queued_worker(fashion_small, tmp_path_factory):
    """A real worker process, waiting for the CPU that this fixture keeps busy; started before the
    other tests, so that its seconds of start-up overlap them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("queued-workspace")))
        mp.setenv("TLSTUDIO_STANDBY", "0")
        with open(locks_dir() / "cpu.lock", "a+") as busy:
            fcntl.flock(busy, fcntl.LOCK_EX)
            run = create_run(_cfg(fashion_small), tmp_path_factory.mktemp("queued") / "run")
            pid = worker.launch(run.path)
            yield run, pid
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


@pytest.fixture(scope="module")
def reference(fashion_small, tmp_path_factory) -> RunDir:
    """The run trained without interruption, which every resumed run must equal."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("reference-workspace")))
        run = create_run(_cfg(fashion_small), tmp_path_factory.mktemp("reference") / "run")
        assert execute(run.path) == "finished"
    return run


def _signal_after_epoch(monkeypatch, sig: signal.Signals, epoch: int) -> dict:
    """Send ``sig`` to this process once, when the checkpoint of ``epoch`` is saved, as a user or
    a system shutting down would; returns the checkpoint's bytes at that moment (under "saved")."""
    real, seen = recorder.save_checkpoint, {}

    def save(run, *args):
        real(run, *args)
        if args[4].epoch == epoch and not seen:
            seen["saved"] = run.checkpoint_path.read_bytes()
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(recorder, "save_checkpoint", save)
    return seen


def _interrupted(run: RunDir, monkeypatch, sig: signal.Signals, epoch: int) -> None:
    seen = _signal_after_epoch(monkeypatch, sig, epoch)
    assert execute(run.path) == "interrupted"
    status = run.status()
    assert status.state == "interrupted" and status.error == interrupt.INTERRUPTED_TEXT
    _plain(status.error)
    assert run.checkpoint_path.read_bytes() == seen["saved"]  # ending wrote no other checkpoint


def _resume_matches(run: RunDir, reference: RunDir, warned: list[str] = ()) -> None:
    """The resumed run's model and predictions equal the uninterrupted run's; its metrics too, but
    for the warnings that say what the resume could not recover."""
    run.clear_cancel()
    assert execute(run.path) == "finished"
    assert [e.epoch for e in run.epochs()] == [1, 2, 3]
    for name in KEPT:
        if name == "metrics.json":
            ours, theirs = json.loads(run.metrics_path.read_text()), json.loads(reference.metrics_path.read_text())
            assert ours.pop("warnings") == list(warned) and theirs.pop("warnings") == [] and ours == theirs
        else:
            assert (run.path / name).read_bytes() == (reference.path / name).read_bytes(), name


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TLSTUDIO_STANDBY": "1", **extra}


# --- workers that end from outside ---------------------------------------------------------------

def test_a_zombie_or_a_process_group_is_not_a_live_worker():
    proc = subprocess.Popen(["true"])
    try:
        _wait(lambda: Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 10)
        os.kill(proc.pid, 0)  # the kernel still answers for it...
        assert not pid_alive(proc.pid)  # ...but it is dead
    finally:
        proc.wait()
    assert not pid_alive(0) and not pid_alive(-1) and not pid_alive(True)
    assert pid_alive(os.getpid()) and not pid_alive(os.getpid(), process_start(os.getpid()) + 1)


# Stands in for a worker where only its process matters: it holds the run's lock and says "running".
STAND_IN = """import sys, time
from tlcore.rundir import RunDir
run = RunDir(sys.argv[1])
with run.worker_lock():
    run.set_status("running", message="Training: epoch 1 of 3", epoch=1)
    time.sleep(60)
"""


def test_a_worker_killed_with_sigkill_is_interrupted_within_seconds_and_collected(fashion_small, tmp_path):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-c", STAND_IN, str(run.path)], env=_env())
    worker._reap_later(proc.pid)  # as launching a worker does
    try:
        _wait(lambda: run.status().state == "running", 30)
        before = _snapshot(run)
        with pytest.raises(TLError) as refused:  # resuming a run that is alive is refused, nothing changes
            worker.launch(run.path)
        _plain(str(refused.value))
        assert _snapshot(run) == before
        os.kill(proc.pid, signal.SIGKILL)
        assert _wait(lambda: run.status().state == "interrupted", 3) < 3  # not after the 60 s heartbeat
        _plain(run.status().error)
        _wait(lambda: not Path(f"/proc/{proc.pid}").exists(), worker.REAP_GRACE_SECONDS + 5)  # no zombie left
    finally:
        proc.kill()
        proc.wait()


def test_sigint_records_interrupted_and_the_run_resumes_to_identical_results(fashion_small, tmp_path, reference,
                                                                            monkeypatch):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    _interrupted(run, monkeypatch, signal.SIGINT, epoch=1)
    _resume_matches(run, reference)
    assert [e["epoch"] for e in run.events("resumed")] == [1] and not run.events("checkpoint_lost")


def test_a_truncated_checkpoint_falls_back_to_the_one_before_and_says_so(fashion_small, tmp_path, reference,
                                                                         monkeypatch, capsys):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    _interrupted(run, monkeypatch, signal.SIGTERM, epoch=2)
    data = run.checkpoint_path.read_bytes()
    run.checkpoint_path.write_bytes(data[: len(data) // 2])
    _resume_matches(run, reference, warned=[LOST_LATEST.format(epoch=1)])
    [lost] = run.events("checkpoint_lost")
    assert lost["message"] == LOST_LATEST.format(epoch=1)
    _plain(lost["message"])
    assert [e["epoch"] for e in run.events("resumed")] == [1]
    assert LOST_LATEST.format(epoch=1) in capsys.readouterr().err  # the worker's log


def test_a_zero_byte_checkpoint_with_none_before_starts_over_and_says_so(fashion_small, tmp_path, reference,
                                                                        monkeypatch):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    _interrupted(run, monkeypatch, signal.SIGTERM, epoch=1)
    assert not run.previous_checkpoint_path.exists()
    run.checkpoint_path.write_bytes(b"")
    _resume_matches(run, reference, warned=[LOST_ALL])
    assert [e["message"] for e in run.events("checkpoint_lost")] == [LOST_ALL]
    _plain(LOST_ALL)
    assert not run.events("resumed")


def test_a_second_worker_on_a_live_run_is_refused_and_changes_nothing(fashion_small, tmp_path):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    with run.worker_lock() as ours:  # this test is the first worker, alive
        assert ours
        run.set_status("running", message="Training: epoch 1 of 3", epoch=1)
        run.request_cancel()
        before = _snapshot(run)
        with pytest.raises(TLError) as launched:
            worker.launch(run.path)
        with pytest.raises(TLError) as executed:
            execute(run.path)
        assert _snapshot(run) == before  # the first worker's cancel request is still there too
        assert run.status().state == "running"
    assert str(launched.value) == str(executed.value) == interrupt.ALREADY_RUNNING
    _plain(interrupt.ALREADY_RUNNING)


# --- standby pid files ---------------------------------------------------------------------------

@pytest.fixture
def bystander():
    """An unrelated live process of this user, which no standby file may get killed."""
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    assert proc.poll() is None, "an unrelated process was signalled"
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("name", ["-1", "0", "abc", "999999999", "99999999999999999999", "1e3", "٣"])
@pytest.mark.parametrize("kind", ["ready", "starting"])
def test_a_standby_file_that_names_no_process_is_removed_and_nothing_is_signalled(bystander, monkeypatch,
                                                                                 name, kind):
    monkeypatch.setenv("TLSTUDIO_STANDBY", "1")
    path = standby_dir() / f"{name}.{kind}"
    path.write_text('{"fingerprint": "older code", "start": 1}')  # older code: a live one would be stopped
    assert not standby.available()
    assert standby.hand_over(["models"], Path(os.devnull), wait=0.1) is None
    standby.shutdown()
    assert not path.exists() and not list(standby_dir().glob("*.job"))


@pytest.mark.parametrize("content", ['{"fingerprint": "older code", "start": 1}', '{"fingerprint": "older code"}',
                                     "{not json", '["older code"]'])
def test_a_reused_pid_of_an_unrelated_process_is_never_signalled(bystander, monkeypatch, content):
    monkeypatch.setenv("TLSTUDIO_STANDBY", "1")
    path = standby_dir() / f"{bystander.pid}.ready"
    path.write_text(content)
    assert not standby.available() and standby.hand_over(["models"], Path(os.devnull), wait=0.1) is None
    standby.shutdown()
    assert not path.exists() and not list(standby_dir().glob("*.job"))


def test_a_folder_in_place_of_a_pid_file_does_not_break_the_studio(monkeypatch, caplog):
    monkeypatch.setenv("TLSTUDIO_STANDBY", "1")
    (standby_dir() / "123.ready").mkdir()
    assert not standby.available()

    def cannot_start(*args, **kwargs):
        raise OSError("no more processes")

    monkeypatch.setattr(worker, "_spawn", cannot_start)
    worker.keep_warm()  # the warm start is only an optimisation: trouble with it is logged, not raised
    assert worker.NO_STANDBY in caplog.text


# --- a standby whose app is gone ------------------------------------------------------------------

def test_a_waiting_standby_leaves_when_its_app_is_gone():
    app = subprocess.Popen(["sleep", "30"])
    code = "import tlcore.jobs.standby as s; s.prepare = lambda: None; raise SystemExit(s.serve(60))"
    proc = subprocess.Popen([sys.executable, "-c", code],
                            env=_env(TLSTUDIO_STANDBY_APP=f"{app.pid}:{process_start(app.pid)}"))
    try:
        _wait(lambda: (standby_dir() / f"{proc.pid}.ready").exists(), 30)
        app.kill()
        app.wait()
        assert proc.wait(timeout=5) == 0
    finally:
        for p in (app, proc):
            p.kill()
            p.wait()
    assert not list(standby_dir().glob(f"{proc.pid}.*"))


def test_a_standby_started_by_an_app_that_ends_leaves_too():
    app = ("from tlcore.jobs import worker; from tlcore.workspace import standby_dir; worker.keep_warm(); "
           "[path] = standby_dir().glob('*.starting'); print(path.stem, path.read_text())")
    # The device is busy, so the standby waits (without importing anything heavy) while its app ends.
    with open(locks_dir() / "cpu.lock", "a+") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        out = subprocess.run([sys.executable, "-c", app], env=_env(), timeout=60, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        pid, info = out.stdout.split(" ", 1)
        start = json.loads(info)["start"]
        assert start == process_start(int(pid)) or start is not None and not pid_alive(int(pid), start)
        _wait(lambda: not pid_alive(int(pid), start), 10)
    assert not list(standby_dir().glob(f"{pid}.*"))


def test_a_worker_told_to_end_with_sigterm_records_interrupted(queued_worker):
    run, pid = queued_worker
    _wait(lambda: run.status().message == WAITING.format(device="CPU"), 120)
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    written = RunDir(run.path).status()
    assert written.state == "interrupted" and written.error == interrupt.INTERRUPTED_TEXT  # on disk, not inferred
    assert "Traceback" not in run.log_path.read_text()
