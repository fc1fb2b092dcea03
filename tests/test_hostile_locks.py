"""Hostile conditions around locks and launches: a lock file deleted while its holder runs, a
live run whose status file went missing, a forged claim to the device pool's slots, a malformed
device list, torchrun's variables left over without torchrun, and a run asking for more devices
than there are. Each case checks what the user sees (one plain line) and that nothing saved
changed."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polling import wait_for
from test_hostile_process import STAND_IN, _cfg, _plain, _snapshot
from tlcore import cli
from tlcore.errors import TLError
from tlcore.jobs import pool, runs, worker
from tlcore.jobs.interrupt import ALREADY_RUNNING
from tlcore.jobs.runs import STILL_TRAINING
from tlcore.jobs.spread import TOO_FEW_DEVICES
from tlcore.jobs.train import WAITING as WAITING_FOR, create_run, execute
from tlcore.rundir import RunDir
from tlcore.training import distributed
from tlcore.training.distributed import LEFTOVER, NO_ADDRESS, NOT_JOINED, NOT_SET, NOT_WHOLE
from tlcore.workspace import locks_dir

ROOT = Path(__file__).resolve().parent.parent
WAITING = WAITING_FOR.format(device="CPU")


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


@contextlib.contextmanager
def _live_worker(run: RunDir):
    """A process standing in for the run's worker: it holds the run's lock and says "running"."""
    proc = subprocess.Popen([sys.executable, "-c", STAND_IN, str(run.path)], env=_env())
    try:
        wait_for(lambda: run.status().state == "running" and run.worker_alive(), 30)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _reap(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# --- the run's lock --------------------------------------------------------------------------------

def test_a_deleted_worker_lock_does_not_let_a_second_worker_train_a_live_run(fashion_small, tmp_path, capsys):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    with _live_worker(run) as first:
        (run.path / "worker.lock").unlink()
        before = _snapshot(run)
        assert cli.main(["run", "--run", str(run.path)]) == 2  # `tlcore run`, from this other process
        assert capsys.readouterr().err.strip() == f"error: {ALREADY_RUNNING}"
        with pytest.raises(TLError) as launched:
            worker.launch(run.path)
        with pytest.raises(TLError) as executed:
            execute(run.path)  # it makes a new worker.lock, and must not get it
        assert str(launched.value) == str(executed.value) == ALREADY_RUNNING
        _plain(ALREADY_RUNNING)
        assert _snapshot(run) == before and not run.events() and run.status().state == "running"
        first.kill()
        first.wait()
    assert not run.worker_alive()  # the lock ended with its holder, file or no file


@pytest.mark.parametrize("hostile", ["status.json deleted", "status.json and worker.lock deleted",
                                     "status.json damaged", "status.json says finished"])
def test_a_live_run_whatever_its_status_file_says_shows_running_and_is_not_deleted(fashion_small, tmp_path,
                                                                                   hostile):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    with _live_worker(run):
        if "deleted" in hostile:
            run.status_path.unlink()
        if "worker.lock" in hostile:
            (run.path / "worker.lock").unlink()
        if "damaged" in hostile:
            run.status_path.write_text("{not json")
        if "finished" in hostile:
            run.status_path.write_text(run.status_path.read_text().replace('"running"', '"finished"'))
        before = _snapshot(run)
        row = runs.summary(run)
        assert row["state"] == ("finished" if "finished" in hostile else "running")
        with pytest.raises(TLError) as refused:
            runs.delete_run(run)
        assert str(refused.value) == STILL_TRAINING.format(title=row["title"])
        _plain(str(refused.value))
        assert _snapshot(run) == before


# --- the device pool -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_deleted_pool_lock_makes_a_second_run_queue_while_the_holder_runs(fashion_small, tmp_path):
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    with contextlib.ExitStack() as holding:
        assert holding.enter_context(pool.hold(1, "cpu")) == ["cpu"]  # this test is the run holding the CPU
        (locks_dir() / "cpu.lock").unlink()
        assert pool.free("cpu") == 0
        pid = worker.launch(run.path)
        try:
            wait_for(lambda: run.status().message == WAITING, 120)
            time.sleep(1)
            assert run.status().state == "queued" and not run.events("epoch")
            holding.close()  # the first run ends: the second one starts
            wait_for(lambda: run.status().state == "running", 60)
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        finally:
            _reap(pid)
    assert run.status().state == "interrupted"


def test_the_held_slots_variable_set_from_outside_skips_neither_lock(fashion_small, tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_HELD_SLOTS", "cpu")  # what the pool once told a spread run's ranks
    run = create_run(_cfg(fashion_small), tmp_path / "run")
    with _live_worker(run):
        before = _snapshot(run)
        with pytest.raises(TLError) as refused:  # the run's lock
            execute(run.path)
        assert str(refused.value) == ALREADY_RUNNING and _snapshot(run) == before
    ask = "from tlcore.jobs import pool; print(pool.inherited('cpu'))"
    with pool.hold(1, "cpu"):
        run.request_cancel()
        assert execute(run.path) == "cancelled"  # it queued for the CPU, and was cancelled there
        assert run.status().message == "Stopped before it started" and not run.events("epoch")
        assert pool.inherited("cpu") == []  # the variable claims the slot; no process this one descends from holds it
        child = subprocess.run([sys.executable, "-c", ask], env=_env(), capture_output=True, text=True, timeout=60)
        assert child.stdout.strip() == "['cpu']"  # the kernel says this test holds it for its children


# --- settings that do not make sense -----------------------------------------------------------------

@pytest.mark.slow
def test_a_device_list_in_another_form_is_one_plain_line(fashion_small, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(pool.ENV, "gpu0;gpu1")
    line = pool.NOT_A_LIST.format(var="TLSTUDIO_DEVICES", value="gpu0;gpu1")
    with pytest.raises(TLError, match="^" + re.escape(line) + "$"):
        pool.slots("cuda")
    _plain(line)
    code = cli.main(["train", "--data", str(fashion_small / "train"), "--out", str(tmp_path / "run"),
                     "--device", "cpu", "--epochs", "1"])
    assert (code, capsys.readouterr().err.strip()) == (2, f"error: {line}")
    status = RunDir(tmp_path / "run").status()
    assert (status.state, status.error) == ("failed", line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _late(rank: int) -> str:
    return NOT_JOINED.format(seconds=1, s="", size=2, rank=rank, address="127.0.0.1", port="{port}")


TORCHRUN_LEFTOVERS = {
    "no other process comes (rank 0)": ({"RANK": "0"}, _late(0)),
    "no first process answers (rank 1)": ({"RANK": "1"}, _late(1)),
    "WORLD_SIZE not a number": ({"WORLD_SIZE": "two", "RANK": "0"}, NOT_WHOLE.format(name="WORLD_SIZE", value="two")),
    "no master address": ({"RANK": "0", "MASTER_ADDR": ""}, NO_ADDRESS.format(size=2)),
    "no RANK": ({}, NOT_SET.format(name="RANK")),
}


@pytest.mark.parametrize("case", list(TORCHRUN_LEFTOVERS))
def test_torchrun_variables_left_over_without_torchrun_end_in_one_plain_line(fashion_small, tmp_path, monkeypatch,
                                                                            capsys, case):
    port = _free_port()
    changes, reason = TORCHRUN_LEFTOVERS[case]
    for name in ("RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), **changes}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(distributed.RENDEZVOUS_ENV, "1")
    code = cli.main(["train", "--data", str(fashion_small / "train"), "--out", str(tmp_path / "run"),
                     "--device", "cpu"])
    line = f"{reason.format(port=port)}: {LEFTOVER}"
    assert (code, capsys.readouterr().err.strip()) == (2, f"error: {line}")
    _plain(line)
    assert not (tmp_path / "run").exists()  # nothing was made


def test_more_processes_than_slots_prints_the_reason(fashion_small, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(pool.ENV, raising=False)
    code = cli.main(["train", "--data", str(fashion_small / "train"), "--out", str(tmp_path / "run"),
                     "--device", "cpu", "--processes", "2"])
    line = TOO_FEW_DEVICES.format(processes=2, have=1)
    out = capsys.readouterr()
    assert code == 3 and out.err.strip() == f"error: {line}" and out.out.splitlines()[-1] == "state: failed"
    _plain(line)
    assert RunDir(tmp_path / "run").status().error == line
