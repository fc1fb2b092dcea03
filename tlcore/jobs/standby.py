"""The warm start: a worker process that has already imported torch and the engine and built the
default model, waiting in the workspace to be handed a job.

A fresh worker spends seconds importing torch, torchvision and scikit-learn and loading
weights before its first step; a standby has done that while the user was uploading images.
It serves one job (exactly the command line a fresh worker would get, run by tlcore.jobs.entry, the
code a fresh worker runs too) and then exits; the studio starts the next one.

Handing over is a file protocol in ``<workspace>/standby``: ``PID.starting`` while it prepares,
``PID.ready`` when it waits; a launcher claims it by renaming ``ready`` to ``taken`` (atomic, so
one launcher wins) and writes ``PID.job``. A standby only prepares while no run holds a device,
so it never slows a run that is training.

Each file records the standby's start time as well as its pid: a pid is reused once its process
is gone, and only a process whose pid and start time both match is signalled or handed a job.
Files with other names or contents are removed, never acted on. A standby leaves when the app
that started it is gone (named in TLSTUDIO_STANDBY_APP the same way).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tlcore import lockfile
from tlcore.atomic import atomic_write_json, read_json
from tlcore.processes import pid_alive, process_start
from tlcore.workspace import locks_dir, standby_dir

ENV_VAR = "TLSTUDIO_STANDBY"  # "0" turns warm starts off
APP_ENV_VAR = "TLSTUDIO_STANDBY_APP"  # "PID:START" of the app that started the standby
PID_NAME = re.compile(r"[1-9][0-9]{0,8}")  # a single process (not 0, -1: groups), in an int's range
IDLE_SECONDS = 1800.0
POLL_SECONDS = 0.05
_log = logging.getLogger(__name__)


def _wait_until(condition: Callable[[], bool], seconds: float, poll: float = POLL_SECONDS) -> bool:
    """Poll ``condition`` until it holds (True) or ``seconds`` have passed (False)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def enabled() -> bool:
    return os.environ.get(ENV_VAR, "1") != "0"


def fingerprint() -> str:
    """Which code a standby runs: a standby started before the code changed is not used."""
    newest = max(p.stat().st_mtime_ns for p in Path(__file__).parents[1].rglob("*.py"))
    return f"{sys.executable}:{newest}"


def _file(pid: int, kind: str) -> Path:
    return standby_dir() / f"{pid}.{kind}"


def _identity(pid: int) -> dict:
    return {"fingerprint": fingerprint(), "since": time.time(), "start": process_start(pid)}


def mark_starting(pid: int) -> None:
    atomic_write_json(_file(pid, "starting"), _identity(pid))


def _entry(path: Path) -> tuple[int, dict] | None:
    """The pid and contents of a standby file, when it names a live process by pid and start time."""
    if not PID_NAME.fullmatch(path.stem):
        return None
    try:
        info = read_json(path, {})
    except (ValueError, OSError):  # damaged: no more ours than a file we never wrote
        return None
    pid = int(path.stem)
    if not isinstance(info, dict) or not isinstance(info.get("start"), int) or not pid_alive(pid, info["start"]):
        return None
    return pid, info


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):  # gone already, or not a file we could remove: never ours to use
        path.unlink(missing_ok=True)


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.kill(pid, signal.SIGTERM)


def _idle() -> list[tuple[int, Path]]:
    """Standbys that are starting or waiting and run the current code. Files that do not name a
    live standby (its process is gone, the pid was reused, the file is not ours) are removed;
    idle standbys running older code are stopped."""
    found, current = [], fingerprint()
    for path in sorted(standby_dir().glob("*.starting")) + sorted(standby_dir().glob("*.ready")):
        entry = _entry(path)
        if entry is None:
            _discard(path)
        elif entry[1].get("fingerprint") != current:
            _stop(entry[0])
            _discard(path)
        else:
            found.append((entry[0], path))
    return found


def available() -> bool:
    """Whether a standby is ready or on its way, so no other needs starting."""
    return bool(_idle())


def hand_over(args: list[str], log_path: Path, wait: float = 2.0) -> int | None:
    """Give ``python -m tlcore ARGS`` to a ready standby; its pid, or None when none took it."""
    for pid, path in _idle():
        if path.suffix != ".ready":
            continue
        taken = path.with_suffix(".taken")
        try:
            os.rename(path, taken)
        except FileNotFoundError:  # another launcher claimed it first
            continue
        job = path.with_suffix(".job")
        atomic_write_json(job, {"args": args, "log": str(log_path)})
        # Unread after ``wait`` and its reader gone: it died before reading the job, nobody will run it.
        if not _wait_until(lambda: not job.exists(), wait, poll=0.01) and not pid_alive(pid):
            job.unlink(missing_ok=True)
            taken.unlink(missing_ok=True)
            continue
        return pid
    return None


def shutdown() -> None:
    """Stop every idle standby of this workspace (running jobs are not touched)."""
    for pid, path in _idle():
        _stop(pid)
        _discard(path)


def wait_ready(timeout: float = 120.0) -> bool:
    """Wait until a standby is ready to take a job (for benchmarks and tests)."""
    return _wait_until(lambda: any(path.suffix == ".ready" for _, path in _idle()), timeout, poll=0.1)


def _devices_busy() -> bool:
    """Whether a run holds a slot of the device pool now."""
    return any(lockfile.held(path) for path in locks_dir().glob("*.lock"))


def prepare() -> None:
    """Import everything a job needs and build the default model (kept in this process), then
    run it once: the ONNX Runtime session of the frozen path on the CPU, cuDNN's kernels on CUDA."""
    from tlcore.startup import loading

    with loading():
        import torch

        import tlcore.jobs.entry  # noqa: F401 - importing is the warm-up (training, sweeps, curves)
    from tlcore.training.augment import BatchPrep
    from tlcore.config import DEFAULT_MODEL, FASTEST
    from tlcore.models.catalog import get_spec
    from tlcore.training.embed import Embedder, embedder_key
    from tlcore.models.net import prepare_backbone

    spec = get_spec(DEFAULT_MODEL)
    cpu, size = torch.device("cpu"), spec.size_on("cpu")
    backbone = prepare_backbone(spec, size)
    example = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
    Embedder(copy.deepcopy(backbone).eval(), BatchPrep(spec.mean, spec.std, cpu), cpu, example,
             key=embedder_key(FASTEST, spec.name, size))  # the session a default run asks for
    if torch.cuda.is_available():
        from tlcore.training.loop import autocast

        size = spec.size_on("cuda")
        backbone = prepare_backbone(spec, size)
        example = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
        cuda = torch.device("cuda")
        model = copy.deepcopy(backbone).to(cuda, memory_format=torch.channels_last).train()
        with autocast(cuda):
            model(BatchPrep(spec.mean, spec.std, cuda)(example)).float().sum().backward()
        torch.cuda.synchronize()
        del model
        torch.cuda.empty_cache()


def app_env() -> dict[str, str]:
    """The environment for a standby started by this process: it leaves when this process ends."""
    return {APP_ENV_VAR: f"{os.getpid()}:{process_start(os.getpid())}"}


def _app_alive() -> Callable[[], bool]:
    """Whether the app that started this standby still runs (always, when none is named)."""
    pid, _, start = os.environ.get(APP_ENV_VAR, "").partition(":")
    if not (PID_NAME.fullmatch(pid) and start.isdigit()):
        return lambda: True
    return lambda: pid_alive(int(pid), int(start))


def serve(idle_seconds: float = IDLE_SECONDS) -> int:
    """The standby's life: prepare, wait for a job (or leave after ``idle_seconds``, or as soon as
    the app that started it is gone), run it."""
    pid, app_alive = os.getpid(), _app_alive()
    try:
        while app_alive() and _devices_busy():
            time.sleep(1.0)
        if not app_alive():
            return 0
        prepare()
        atomic_write_json(_file(pid, "ready"), _identity(pid))
    finally:
        _file(pid, "starting").unlink(missing_ok=True)
    job_path = _file(pid, "job")
    _wait_until(lambda: job_path.exists() or not app_alive(), idle_seconds)
    if not job_path.exists():
        try:
            _file(pid, "ready").unlink()
            return 0
        except FileNotFoundError:  # claimed at the last moment: its job is on its way
            if not _wait_until(job_path.exists, 60.0):
                return 0
    job = read_json(job_path)
    job_path.unlink()
    _file(pid, "taken").unlink(missing_ok=True)
    with open(job["log"], "ab") as log:
        os.dup2(log.fileno(), sys.stdout.fileno())
        os.dup2(log.fileno(), sys.stderr.fileno())
    from tlcore.jobs.entry import main

    return main(job["args"])
