"""Starting a run's worker as its own process, detached from whoever started it, so that a
closed browser tab, a Streamlit rerun or an app restart neither stops nor loses the run; and
what a worker does when it is told to end."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tlcore.jobs import standby
from tlcore.jobs.command import WorkerCommand
from tlcore.errors import TLError
from tlcore.jobs.interrupt import ALREADY_RUNNING
from tlcore.rundir import RunDir
from tlcore.workspace import standby_dir

# How long a dead child's exit status is left for a caller that waits for it itself (the
# command line, tests) before the reaper collects it.
REAP_GRACE_SECONDS = 2.0
NO_STANDBY = "Could not start a standby worker"
_log = logging.getLogger(__name__)


def _reap_later(pid: int) -> None:
    """Collect the child's exit status once it has ended, from a daemon thread: an uncollected
    child stays a zombie, which answers os.kill as if it were alive. (A SIGCHLD handler would run
    inside Streamlit's main thread and collect children that are not ours to collect.)"""
    def reap() -> None:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # wait for its end, leave the status
            time.sleep(REAP_GRACE_SECONDS)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass  # its caller collected it first

    threading.Thread(target=reap, name=f"reap-{pid}", daemon=True).start()


def _spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Run ``python -m tlcore ARGS`` in a new session (it outlives its caller); output to ``log_path``."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tlcore", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd=root)
    _reap_later(proc.pid)
    return proc.pid


def launch_detached(args: list[str], log_path: Path) -> int:
    """Run ``python -m tlcore ARGS`` outside the caller: in a warm standby when one is ready,
    else in a new process; then make sure a standby is warming up for the next job."""
    pid = None
    if standby.enabled():
        try:
            pid = standby.hand_over(args, log_path)
        except OSError:
            _log.warning("The standby worker could not take the job; starting a fresh one", exc_info=True)
    if pid is None:
        pid = _spawn(args, log_path)
    keep_warm()
    return pid


def keep_warm() -> None:
    """Start a standby worker unless one is ready or on its way (warm starts can be turned off
    with TLSTUDIO_STANDBY=0). It leaves when this process ends. Never raises: the warm start only
    saves time, so trouble with it is logged and must not break a page."""
    if not standby.enabled():
        return
    try:
        if not standby.available():
            standby.mark_starting(_spawn(["standby"], standby_dir() / "standby.log", standby.app_env()))
    except Exception:
        _log.warning(NO_STANDBY, exc_info=True)


def launch(run_dir: str | Path) -> int:
    """Start ``python -m tlcore run --run RUN_DIR`` detached; returns its pid.

    Output goes to the run's worker.log. Calling it again on an interrupted or cancelled run
    resumes it from its checkpoint; on a run whose worker is alive it is refused (TLError)
    before anything changes.
    """
    run = RunDir(run_dir)
    if run.worker_alive():
        raise TLError(ALREADY_RUNNING)
    run.clear_cancel()
    return launch_detached(WorkerCommand("run", run.path).args(), run.log_path)
