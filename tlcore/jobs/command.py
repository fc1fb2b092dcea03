"""The command line a worker process is started with (``python -m tlcore JOB ...``), in one place:
the launchers build it (``WorkerCommand.args``) and the worker, fresh or a warm standby, reads it
back (``WorkerCommand.parse``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

# A worker's jobs -> the option naming what it works on: a run folder, or a study's request.json.
JOBS = {"run": "--run", "sweep": "--request", "curve": "--request"}


@dataclass(frozen=True)
class WorkerCommand:
    """One worker job: ``job`` ("run", "sweep" or "curve") on ``target``."""

    job: str
    target: Path

    def args(self, positional: bool = False) -> list[str]:
        """The command line after ``python -m tlcore``; ``positional`` names a run folder without
        ``--run`` (torchrun would take ``--run`` for its own ``--run-path``)."""
        if self.job not in JOBS:
            raise ValueError(f"no worker job {self.job!r}")
        return [self.job, str(self.target)] if positional else [self.job, JOBS[self.job], str(self.target)]

    @staticmethod
    def parse(argv: list[str]) -> WorkerCommand:
        """The job of a command line that ``args`` wrote (``run`` also takes its folder without ``--run``)."""
        p = argparse.ArgumentParser(prog="python -m tlcore")
        sub = p.add_subparsers(dest="job", required=True)
        run = sub.add_parser("run")
        run.add_argument("folder", nargs="?", default="")
        run.add_argument("--run", default="")
        for job in ("sweep", "curve"):
            sub.add_parser(job).add_argument("--request", required=True)
        args = p.parse_args(argv)
        target = (args.run or args.folder) if args.job == "run" else args.request
        if not target:
            p.error("name the run folder")
        return WorkerCommand(args.job, Path(target))
