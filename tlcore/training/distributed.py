"""One run spread over several processes by torchrun (DistributedDataParallel): which process
this is, its device, and the few collectives the engine needs. Rank 0 records the run; the
others compute and stay quiet. With one process every function here is a no-op."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from tlcore.training.devices import resolve_device


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes the run folder."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def part(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` rows (shares differ by at most one row)."""
        return slice(n * self.rank // self.size, n * (self.rank + 1) // self.size)

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any (a Stop seen by one rank stops all)."""
        if not self.active:
            return flag
        t = torch.tensor([int(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def gather_rows(self, local: torch.Tensor) -> torch.Tensor:
        """Every rank's ``part`` of a tensor, concatenated in rank order (the whole tensor)."""
        if not self.active:
            return local
        pieces = [None] * self.size
        dist.all_gather_object(pieces, local.cpu())
        return torch.cat(pieces)

    def gather_list(self, local: list) -> list:
        """Every rank's list, concatenated in rank order."""
        if not self.active:
            return local
        pieces = [None] * self.size
        dist.all_gather_object(pieces, local)
        return [x for piece in pieces for x in piece]

    def total(self, value: float) -> float:
        """The sum of ``value`` over the ranks."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item())


SOLO = World()


def from_env() -> World:
    """This process's place in a torchrun launch (RANK, WORLD_SIZE, LOCAL_RANK), else SOLO."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SOLO
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another rank of the run ended."""
    words = str(error).lower()
    return isinstance(error, dist.DistError) or (
        isinstance(error, RuntimeError) and any(w in words for w in ("gloo", "nccl", "connection reset",
                                                                     "connection closed", "broken pipe")))


@contextlib.contextmanager
def session(device_choice: str) -> Iterator[World]:
    """Join torchrun's process group for the duration (gloo on CPU, NCCL on GPUs)."""
    world = from_env()
    if not world.active:
        yield world
        return
    backend = "nccl" if resolve_device(device_choice).type == "cuda" else "gloo"
    dist.init_process_group(backend)
    try:
        yield world
    finally:
        dist.destroy_process_group()
