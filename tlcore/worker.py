"""Starting a run's worker as its own process, detached from whoever started it, so that a
closed browser tab, a Streamlit rerun or an app restart neither stops nor loses the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tlcore import standby
from tlcore.rundir import RunDir
from tlcore.workspace import standby_dir


def _spawn(args: list[str], log_path: Path) -> int:
    """Run ``python -m tlcore ARGS`` in a new session (it outlives its caller); output to ``log_path``."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tlcore", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd=root)
    return proc.pid


def launch_detached(args: list[str], log_path: Path) -> int:
    """Run ``python -m tlcore ARGS`` outside the caller: in a warm standby when one is ready,
    else in a new process; then make sure a standby is warming up for the next job."""
    pid = standby.hand_over(args, log_path) if standby.enabled() else None
    if pid is None:
        pid = _spawn(args, log_path)
    keep_warm()
    return pid


def keep_warm() -> None:
    """Start a standby worker unless one is ready or on its way (warm starts can be turned off
    with TLSTUDIO_STANDBY=0)."""
    if standby.enabled() and not standby.available():
        standby.mark_starting(_spawn(["standby"], standby_dir() / "standby.log"))


def launch(run_dir: str | Path) -> int:
    """Start ``python -m tlcore run --run RUN_DIR`` detached; returns its pid.

    Output goes to the run's worker.log. Calling it again on an interrupted or cancelled run
    resumes it from its checkpoint.
    """
    run = RunDir(run_dir)
    run.clear_cancel()
    return launch_detached(["run", "--run", str(run.path)], run.log_path)
