"""Starting a run's worker as its own process, detached from whoever started it, so that a
closed browser tab, a Streamlit rerun or an app restart neither stops nor loses the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tlcore.rundir import RunDir


def launch(run_dir: str | Path) -> int:
    """Start ``python -m tlcore run --run RUN_DIR`` in a new session; returns its pid.

    Output goes to the run's worker.log. Calling it again on an interrupted or cancelled run
    resumes it from its checkpoint.
    """
    run = RunDir(run_dir)
    run.clear_cancel()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    with open(run.log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tlcore", "run", "--run", str(run.path)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True, cwd=root)
    return proc.pid
