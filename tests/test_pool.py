"""The device pool: runs go side by side on free slots, and a run with several processes waits
for all of them. CPU slots (TLSTUDIO_DEVICES="cpu,cpu") stand in for a machine's GPUs."""

import contextlib
import fcntl
import os
import signal
import time

import pytest
from polling import wait_for

from tlcore.jobs import pool, spread, worker
from tlcore.config import TrainConfig
from tlcore.rundir import RunDir
from tlcore.jobs.train import create_run
from tlcore.workspace import locks_dir

SMALL = dict(image_size=64, batch_size=16, augment="none", evaluation="holdout", recipe="fastest", device="cpu")


@pytest.fixture
def two_slots(monkeypatch):
    monkeypatch.setenv(pool.ENV, "cpu,cpu")


def _reap(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.killpg(pid, signal.SIGKILL)  # the worker and, for a spread run, its torchrun ranks
            os.waitpid(pid, 0)


def test_the_pool_is_the_listed_slots_or_one_per_gpu_or_the_processor(monkeypatch):
    monkeypatch.delenv(pool.ENV, raising=False)
    assert pool.slots("cpu") == ["cpu"]
    monkeypatch.setenv(pool.ENV, "cuda:0, cuda:2")
    assert pool.slots("cuda") == ["cuda:0", "cuda:2"]


def test_a_two_slot_hold_waits_until_both_are_free_and_takes_none_meanwhile(two_slots):
    with open(locks_dir() / "cpu-1.lock", "a+") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        waited, checks = [], iter(range(3))
        with pool.hold(2, "cpu", on_wait=lambda: waited.append(1),
                       should_stop=lambda: next(checks, 3) >= 2, poll=0.01) as got:
            assert got is None and waited == [1]
        with pool.hold(1, "cpu") as one:  # the free slot was not kept while waiting
            assert one == ["cpu"]
    with pool.hold(2, "cpu") as both, pool.hold(3, "cpu") as too_many:
        assert both == ["cpu", "cpu"] and too_many is None


@pytest.mark.slow
def test_two_runs_on_a_pool_of_two_slots_train_at_the_same_time(fashion_small, tmp_path, two_slots):
    runs = [create_run(TrainConfig(data=str(fashion_small / "train"), trainable_stages=1, epochs=100, **SMALL),
                       tmp_path / name) for name in ("a", "b")]
    pids = [worker.launch(run.path) for run in runs]
    try:
        wait_for(lambda: all(run.events("epoch") for run in runs), 240)
        assert all(run.status().state == "running" for run in runs)  # both, at once
        for run in runs:
            run.request_cancel()
        for pid in pids:
            os.waitpid(pid, 0)
        assert [run.status().state for run in runs] == ["cancelled", "cancelled"]
    finally:
        _reap(pids)


@pytest.mark.slow
def test_a_run_asking_for_two_slots_waits_for_both_then_trains_on_two_processes(fashion_small, tmp_path,
                                                                                two_slots):
    cfg = TrainConfig(data=str(fashion_small / "train"), trainable_stages=0, epochs=5, world_size=2, **SMALL)
    run = create_run(cfg, tmp_path / "run")
    with open(locks_dir() / "cpu-0.lock", "a+") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)  # another run holds one of the two slots
        pid = worker.launch(run.path)
        try:
            wait_for(lambda: run.status().message == spread.waiting_text(2, "cpu"), 120)
            time.sleep(2)
            assert run.status().state == "queued" and not run.events("epoch")
        except BaseException:
            _reap([pid])
            raise
    try:
        wait_for(lambda: run.status().state == "finished", 240)
        os.waitpid(pid, 0)
        assert RunDir(run.path).record().config.world_size == 2
        [features] = run.events("features")
        assert features["images"] == 48 and len(run.events("epoch")) == 5
    finally:
        _reap([pid])
