"""The worker's jobs: what the process of a run, a sweep or a learning curve does once started,
whether fresh (``python -m tlcore run|sweep|curve``) or handed to a warm standby (the same code
either way), and the lines it prints."""

from __future__ import annotations

import sys
from pathlib import Path

from tlcore.jobs import curve, sweep
from tlcore.jobs.command import WorkerCommand
from tlcore.data.names import printable
from tlcore.training.distributed import SOLO, World
from tlcore.training.text_inputs import is_text_run
from tlcore.errors import TLError
from tlcore.jobs.interrupt import ALREADY_RUNNING
from tlcore.jobs.outcome import guarded
from tlcore.rundir import RunDir
from tlcore.studydir import StudyDir
from tlcore.jobs.train import execute


def _unit(run: RunDir) -> str:
    """What the run's scores count: texts or images, or "examples" when its record is damaged (the
    scores are still printed)."""
    try:
        return "texts" if is_text_run(run.record().config) else "images"
    except TLError:
        return "examples"


def report_run(run_dir: Path, state: str) -> int:
    """Print a run's scores and how it ended, with the reason when it did not finish; the exit
    code (0 when it finished)."""
    run = RunDir(run_dir)
    metrics = run.metrics()
    if metrics is not None:
        unit = _unit(run)
        for split in metrics.splits:
            m = metrics.split(split)
            print(f"{split}: accuracy {m.accuracy:.3f}  precision {m.precision_macro:.3f}  "
                  f"recall {m.recall_macro:.3f}  f1 {m.f1_macro:.3f}  ({m.count} {unit})")
        print(f"score: {metrics.score.sentence()}")
        for warning in metrics.warnings:
            print(f"warning: {printable(warning)}")
    error = run.status().error if state != "finished" else None
    if error:
        print(f"error: {printable(' '.join(error.split()))}", file=sys.stderr)
    print(f"state: {state}")
    return 0 if state == "finished" else 3


def run_folder(run_dir: str | Path, world: World = SOLO) -> int:
    """Start or resume the run prepared in ``run_dir`` (refused while its worker is alive); under
    torchrun, on every rank (rank 0 checks, records and reports)."""
    run = RunDir(run_dir)
    if world.main and not (world.active and run.locked_by_ancestor()):  # a spread run's parent holds it
        if run.worker_alive():  # its Stop request must survive this second, refused worker
            raise TLError(ALREADY_RUNNING)
        run.clear_cancel()
    state = execute(run_dir, world)
    return report_run(Path(run_dir), state) if world.main else int(state != "finished")


def report_sweep(rows: list[dict], out: Path) -> int:
    """Print a sweep's rows and where its summary is."""
    for r in rows:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        print(f"{r['strategy']:<45} accuracy {acc}  {r['seconds']:>7.1f} s")
    print(f"summary: {StudyDir(out, 'sweep').rows_path}")
    return 0


def sweep_request(request: Path) -> int:
    """Run the sweep a sweep folder's request.json asks for."""
    return report_sweep(sweep.run_request(request), request.parent)


def report_curve(rows: list[dict]) -> int:
    """Print a learning curve's points."""
    for r in rows:
        per_class = printable(", ".join(f"{c} {v:.2f}" for c, v in r["recall"].items()))
        print(f"{r['fraction']:>4.0%} of the images: accuracy {r['accuracy']:.3f}; recall {per_class}")
    return 0


def curve_request(request: Path) -> int:
    """Compute the learning curve a curve folder's request.json asks for."""
    return report_curve(curve.run_request(request))


def main(argv: list[str]) -> int:
    """Run the job of a worker's command line (``tlcore.jobs.command``); a failure ends in one
    line, as on the command line."""
    command = WorkerCommand.parse(argv)
    jobs = {"run": run_folder, "sweep": sweep_request, "curve": curve_request}
    return guarded(command.job, lambda: jobs[command.job](command.target))
