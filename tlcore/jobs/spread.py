"""A run with several processes, started by the studio or ``tlcore run``: it waits for that many
slots of the device pool, then trains under torchrun on them (DistributedDataParallel), whose
rank 0 records the run. The slots stay held, and the run's lock taken, until torchrun ends."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

from tlcore.jobs import pool
from tlcore.jobs.command import WorkerCommand
from tlcore.training.devices import resolve_device
from tlcore.training.distributed import World
from tlcore.jobs.interrupt import Interrupted
from tlcore.rundir import RunDir

TOO_FEW_DEVICES = ("This run asks for {processes} devices, and this computer has {have}. Train it again with {have} "
                   "or fewer.")


def _die_with_parent() -> None:
    """In the child: end when the process that holds the slots ends (Linux prctl PDEATHSIG)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def waiting_text(count: int, device_type: str) -> str:
    what = "graphics cards" if device_type == "cuda" else "processor slots"
    return f"Waiting for {count} free {what}: other runs are using them"


def spread(run: RunDir, processes: int, device_choice: str) -> str:
    """Hold ``processes`` slots, train the run under torchrun on them, and return its final state."""
    device_type = resolve_device(device_choice).type
    waiting = lambda: run.set_status("queued", message=waiting_text(processes, device_type))
    with pool.hold(processes, device_type, waiting, run.cancel_requested) as devices:
        if devices is None:
            if run.cancel_requested():
                run.set_status("cancelled", message="Stopped before it started")
                return "cancelled"
            have = len(pool.slots(device_type))
            run.set_status("failed", message="Failed",
                           error=TOO_FEW_DEVICES.format(processes=processes, have=have))
            return "failed"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(processes), "-m", "tlcore", *WorkerCommand("run", run.path).args(positional=True)]
        root = Path(__file__).resolve().parents[2]
        # the ranks see that this process holds their slots (pool.inherited) and the run's lock
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        # its rank 0 reports the run in the run folder; this process prints the report once it ends
        child = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        try:
            child.wait()
        except Interrupted:
            child.send_signal(signal.SIGTERM)  # torchrun passes it on; rank 0 records "interrupted"
            child.wait()
            raise
    return run.status().state


def device_of(world: World, choice: str) -> torch.device:
    """The device this rank computes on: one GPU per process (the device pool's slot that the
    spread run's parent holds for this local rank, else the GPU of that number), else the CPU."""
    device = resolve_device(choice)
    if device.type == "cuda" and world.active:
        held = pool.inherited("cuda")
        device = torch.device(held[world.local_rank] if len(held) > world.local_rank else f"cuda:{world.local_rank}")
        torch.cuda.set_device(device)
    return device
