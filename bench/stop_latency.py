"""How long Stop takes in each phase of a run, as the Train page's Stop button asks it.

    python bench/stop_latency.py [--phases decode,load,export,embed,cv,train,test,save]

For each phase, a fresh workspace and a run in its own worker process (as the studio starts it) on
the digits sample; Stop is asked as soon as the run reports that phase, and the seconds until the
run has ended (its state no longer active) are printed with the state and message it ended with.
A measurement on this machine, not a test: tests/test_stop.py checks the limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FROZEN = dict(trainable_stages=0, evaluation="cv", epochs=400, augment="light", device="cpu")
TUNED = dict(trainable_stages=1, evaluation="holdout", epochs=3, augment="none", image_size=96, device="cpu")
# The status line of each phase, for runs that report no phases (the studio before they did).
MESSAGES = {"decode": "Loading the training", "load": "Loading the pretrained", "embed": "Computing image features",
            "cv": "Cross-validation", "train": "Training: epoch", "test": "Scoring the",
            "save": "Evaluating and saving"}
SETTINGS = {  # phase -> (images per class, settings, separate test images)
    "decode": (100, FROZEN, False), "load": (100, FROZEN, False), "export": (100, {"device": "cpu"}, False),
    "embed": (100, FROZEN, False), "cv": (30, {**FROZEN, "augment": "none"}, False),
    "train": (30, TUNED, False), "test": (30, TUNED, True), "save": (30, TUNED, True),
}


def stop_in(phase: str, timeout: float = 600.0) -> tuple[float | None, str, str]:
    """Seconds from Stop to the end of a run stopped in ``phase``, its state and message."""
    from tlcore.config import TrainConfig
    from tlcore.data import samples, store
    from tlcore.jobs import runs

    per_class, settings, test = SETTINGS[phase]
    data = store.dataset_folder(samples.load_sample("digits", per_class=per_class))
    test_data = store.dataset_folder(samples.load_sample("digits", per_class=per_class + 10)) if test else ""
    run = runs.start_run(TrainConfig(data=data, test_data=test_data, **settings))
    deadline, asked = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        status = run.status()
        if asked is None:
            progress = runs.progress(run) or {}
            if progress.get("phase") == phase or (status.message or "").startswith(MESSAGES.get(phase, "-")):
                asked = time.monotonic()
                run.request_cancel()
        if status.state not in ("queued", "running"):
            took = None if asked is None else time.monotonic() - asked
            while run.worker_alive():  # its folder is removed next
                time.sleep(0.1)
            return took, status.state, status.message
        time.sleep(0.05)
    run.request_cancel()
    return None, "timed out", ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default=",".join(SETTINGS))
    args = parser.parse_args()
    os.environ["TLSTUDIO_STANDBY"] = "0"  # a fresh worker each time, and none left behind
    for phase in args.phases.split(","):
        with tempfile.TemporaryDirectory() as home:
            os.environ["TLSTUDIO_HOME"] = home
            seconds, state, message = stop_in(phase)
            took = "never reached" if seconds is None else f"{seconds:5.1f} s"
            print(f"{phase:<7} {took}  {state}: {message}", flush=True)


if __name__ == "__main__":
    main()
