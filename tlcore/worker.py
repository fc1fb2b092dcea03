"""Starting a run's worker as its own process, detached from whoever started it, so that a
closed browser tab, a Streamlit rerun or an app restart neither stops nor loses the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tlcore.rundir import RunDir


def launch_detached(args: list[str], log_path: Path) -> int:
    """Run ``python -m tlcore ARGS`` in a new session (it outlives its caller); output to ``log_path``."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tlcore", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd=root)
    return proc.pid


def launch(run_dir: str | Path) -> int:
    """Start ``python -m tlcore run --run RUN_DIR`` detached; returns its pid.

    Output goes to the run's worker.log. Calling it again on an interrupted or cancelled run
    resumes it from its checkpoint.
    """
    run = RunDir(run_dir)
    run.clear_cancel()
    return launch_detached(["run", "--run", str(run.path)], run.log_path)
