"""One run spread over several processes by torchrun (DistributedDataParallel): which process
this is, its device, and the few collectives the engine needs. Rank 0 records the run; the
others compute and stay quiet. With one process every function here is a no-op."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.distributed import rendezvous
from torch.distributed.constants import default_pg_timeout

from tlcore.errors import TLError
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
RENDEZVOUS_ENV = "TLSTUDIO_RENDEZVOUS_SECONDS"  # how long a process waits for the others to join
RENDEZVOUS_SECONDS = 60.0
LEFTOVER = ("unset WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT to train in one process, or start the run with "
            "torchrun, which sets them.")
# What is wrong with the torchrun variables; the user sees "<reason>: <LEFTOVER>".
NOT_SET = "WORLD_SIZE is set, but {name} is not"
NOT_WHOLE = '{name} is "{value}", which is not a whole number'
NO_ADDRESS = "WORLD_SIZE is {size}, but MASTER_ADDR is not set"
NOT_JOINED = ("The other processes of this run did not join within {seconds:g} second{s} (WORLD_SIZE is {size}, "
              "RANK {rank}, MASTER_ADDR {address}, MASTER_PORT {port})")


def _leftover(reason: str) -> TLError:
    """The one line for torchrun's variables that make no sense here: ``reason``, then what to do."""
    return TLError(f"{reason}: {LEFTOVER}")


def _whole(name: str, default: str | None = None) -> int:
    """The whole number in the environment variable ``name``; TLError when it is missing or not one."""
    value = os.environ.get(name, default)
    if not value:
        raise _leftover(NOT_SET.format(name=name))
    try:
        return int(value)
    except ValueError:
        raise _leftover(NOT_WHOLE.format(name=name, value=" ".join(value.split()))) from None


def from_env() -> World:
    """This process's place in a torchrun launch (RANK, WORLD_SIZE, LOCAL_RANK), else SOLO; TLError
    when those variables do not make sense."""
    size = _whole("WORLD_SIZE", "1")
    if size <= 1:
        return SOLO
    rank = _whole("RANK")
    if not 0 <= rank < size:
        raise TLError(f"RANK is {rank}, but WORLD_SIZE is {size}: {LEFTOVER}")
    return World(rank, size, _whole("LOCAL_RANK", "0"))


def peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another rank of the run ended."""
    words = str(error).lower()
    return isinstance(error, dist.DistError) or (
        isinstance(error, RuntimeError) and any(w in words for w in ("gloo", "nccl", "connection reset",
                                                                     "connection closed", "broken pipe")))


def _rendezvous_seconds() -> float:
    """How long to wait for the run's other processes (TLSTUDIO_RENDEZVOUS_SECONDS, else a minute)."""
    value = os.environ.get(RENDEZVOUS_ENV, "") or str(RENDEZVOUS_SECONDS)
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 1e6:
        raise TLError(f'{RENDEZVOUS_ENV} is "{" ".join(value.split())}": give a number of seconds, such as 60.')
    return seconds


def _reachable(address: str, port: int, deadline: float) -> bool:
    """Whether something answers at ``address:port`` before ``deadline`` (time.monotonic)."""
    while True:
        try:
            socket.create_connection((address, port), timeout=1.0).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def _join(world: World) -> dist.Store:
    """Meet the run's other processes at MASTER_ADDR:MASTER_PORT (torch's env:// rendezvous), giving
    up after TLSTUDIO_RENDEZVOUS_SECONDS: variables left over from another launch must not make a
    run wait forever for processes that will never come."""
    address = os.environ.get("MASTER_ADDR", "")
    if not address:
        raise _leftover(NO_ADDRESS.format(size=world.size))
    port = _whole("MASTER_PORT")
    if not 0 < port < 65536:
        raise TLError(f"MASTER_PORT is {port}, which is not a port number: {LEFTOVER}")
    try:
        socket.getaddrinfo(address, port)
    except OSError:
        raise TLError(f"MASTER_ADDR is {address}, which names no computer that can be found: {LEFTOVER}") from None
    seconds = _rendezvous_seconds()
    late = _leftover(NOT_JOINED.format(seconds=seconds, s="s" * (seconds != 1), size=world.size, rank=world.rank,
                                       address=address, port=port))
    deadline = time.monotonic() + seconds
    # the first process must answer before torch's own client tries, which prints C++ traces while it waits
    if world.rank > 0 and not _reachable(address, port, deadline):
        raise late
    try:
        store, _, _ = next(rendezvous("env://", timeout=timedelta(seconds=max(1.0, deadline - time.monotonic()))))
    except dist.DistError as e:
        if "address already in use" in str(e):
            raise TLError(f"MASTER_PORT {port} is already used by another program: {LEFTOVER}") from e
        raise late from e
    store.set_timeout(default_pg_timeout)  # from now on the run's own steps, which may take long
    return dist.PrefixStore("default_pg", store)  # as init_process_group names it


@contextlib.contextmanager
def session(device_choice: str) -> Iterator[World]:
    """Join torchrun's process group for the duration (gloo on CPU, NCCL on GPUs); TLError when
    the other processes do not join in time, or torchrun's variables do not make sense."""
    world = from_env()
    if not world.active:
        yield world
        return
    backend = "nccl" if resolve_device(device_choice).type == "cuda" else "gloo"
    dist.init_process_group(backend, store=_join(world), rank=world.rank, world_size=world.size)
    try:
        yield world
    finally:
        dist.destroy_process_group()
