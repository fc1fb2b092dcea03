"""One run on two processes under torchrun (gloo on the CPU): the same answers as one process,
and a killed rank leaves a run that resumes."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from polling import wait_for

from tlcore.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--device", "cpu", "--image-size", "64", "--augment", "none", "--evaluation", "holdout"]


def _env(workspace: Path) -> dict:
    return {**os.environ, "TLSTUDIO_HOME": str(workspace), "TLSTUDIO_STANDBY": "0", "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1"}


def _torchrun(processes: int, *args: str) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "tlcore", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
            "-m", "tlcore", *args]


def _train(fashion: Path, out: Path, processes: int, *extra: str) -> RunDir:
    done = subprocess.run(_torchrun(processes, "train", "--data", str(fashion / "train"), "--test",
                                    str(fashion / "test"), "--out", str(out), *SMALL, *extra),
                          env=_env(out.parent / "workspace"), capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + "\n".join(
        line for line in done.stderr.splitlines() if "rank0" in line or line.startswith("error"))[-4000:]
    return RunDir(out)


def _predictions(run: RunDir, split: str) -> pd.DataFrame:
    return pd.read_csv(run.predictions_path(split)).sort_values("file").reset_index(drop=True)


@pytest.mark.slow
def test_a_frozen_network_on_two_processes_predicts_what_one_process_does(fashion_small, tmp_path):
    one = _train(fashion_small, tmp_path / "one", 1, "--trainable-stages", "0", "--epochs", "20")
    two = _train(fashion_small, tmp_path / "two", 2, "--trainable-stages", "0", "--epochs", "20")
    assert two.record().config.world_size == 2 and one.record().config.world_size == 1
    for split in ("val", "test"):
        a, b = _predictions(one, split), _predictions(two, split)
        assert list(a.file) == list(b.file)
        assert (a.predicted == b.predicted).mean() >= 0.99, split
        assert abs(one.metrics().split(split).accuracy - two.metrics().split(split).accuracy) <= 0.02
    [features] = two.events("features")
    assert features["images"] == 48 + 40  # each image embedded once, in shares, by the two ranks


@pytest.mark.slow
def test_a_one_stage_fine_tune_on_two_processes_lands_near_one_process(fashion_small, tmp_path):
    settings = ("--trainable-stages", "1", "--epochs", "8", "--lr", "0.01")
    one = _train(fashion_small, tmp_path / "one", 1, *settings)
    two = _train(fashion_small, tmp_path / "two", 2, *settings)
    epochs = two.events("epoch")
    assert [e["epoch"] for e in epochs] == list(range(1, 9)) and not epochs[-1]["fast_path"]
    assert all(e["train"]["count"] == 48 - len(_predictions(two, "val")) for e in epochs)  # both ranks' images
    assert abs(one.metrics().split("test").accuracy - two.metrics().split("test").accuracy) <= 0.15
    assert min(one.metrics().split("test").accuracy, two.metrics().split("test").accuracy) >= 0.6


def _rank_pid(workspace: Path, rank: int) -> int | None:
    """The pid of the torchrun worker of ``rank`` whose workspace is ``workspace``."""
    for proc in Path("/proc").iterdir():
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"TLSTUDIO_HOME={workspace}".encode() in env and f"RANK={rank}".encode() in env \
                and b"LOCAL_RANK=" + str(rank).encode() in env:
            return int(proc.name)
    return None


@pytest.mark.slow
def test_a_killed_rank_ends_the_run_interrupted_and_torchrun_resumes_it(fashion_small, tmp_path):
    out, workspace = tmp_path / "run", tmp_path / "workspace"
    launcher = subprocess.Popen(_torchrun(2, "train", "--data", str(fashion_small / "train"), "--out", str(out),
                                          *SMALL, "--trainable-stages", "1", "--epochs", "100"),
                                env=_env(workspace), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=ROOT, start_new_session=True)
    try:
        run = RunDir(out)
        wait_for(lambda: len(run.events("epoch")) >= 1, 300)
        os.kill(_rank_pid(workspace, 1), signal.SIGKILL)
        launcher.wait(timeout=120)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert run.status().state == "interrupted", run.status()
    before = len(run.events("epoch"))

    resumed = subprocess.Popen(_torchrun(2, "run", str(out)), env=_env(workspace), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: len(run.events("epoch")) > before, 300)
        run.request_cancel()
        resumed.wait(timeout=180)  # torchrun ends 1 when a rank ends non-zero (3: cancelled)
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
            resumed.wait()
    assert run.status().state == "cancelled" and run.events("resumed")
    epochs = [e["epoch"] for e in run.events("epoch")]
    assert epochs == list(range(1, len(epochs) + 1))  # no repeats, no gaps
    assert run.metrics_path.is_file() and json.loads(run.config_path.read_text())["config"]["world_size"] == 2
