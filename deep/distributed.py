"""Scale-out through ``torchrun``: process groups, DistributedDataParallel, rank-0 writes.

Run any deep method on several GPUs or nodes with e.g.::

    torchrun --nproc_per_node 4 -m bench run --methods r3d_18 ...

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`init_from_env` reads them and starts the process group (NCCL on CUDA,
gloo on CPU). :class:`deep.train.VideoClassifier` then wraps its model in
:class:`~torch.nn.parallel.DistributedDataParallel`, shards each epoch with a
:class:`~torch.utils.data.DistributedSampler` and lets only rank 0 write checkpoints.
DDP averages gradients over ranks, so with equal shards one step on ``world_size`` ranks equals
one step on the whole global batch in one process (the test ``tests/deep/test_ddp.py`` checks it).

References
----------
Li, S. et al. (2020). PyTorch Distributed: experiences on accelerating data parallel training.
VLDB. arXiv:2006.15704.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

__all__ = [
    "DistInfo",
    "init_from_env",
    "current",
    "is_main_process",
    "wrap_model",
    "make_sampler",
    "free_port",
    "spawn_local",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def current() -> DistInfo:
    """The running process group's rank and size (rank 0 of 1 when none is initialised)."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return DistInfo(dist.get_rank(), dist.get_world_size(), local)
    return DistInfo()


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the only rank that writes files."""
    return current().rank == 0


def init_from_env(backend: str | None = None) -> DistInfo:
    """Start the process group from ``torchrun``'s environment variables, if there are any.

    Parameters
    ----------
    backend : str, optional
        ``"nccl"`` or ``"gloo"``; default NCCL when CUDA is available, else gloo.

    Returns
    -------
    DistInfo
        Rank 0 of 1 (and no process group) when ``WORLD_SIZE`` is unset or 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return current()
    if not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend=backend)
    info = current()
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
    return info


def wrap_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` inside DistributedDataParallel when a process group runs, else unchanged."""
    info = current()
    if not info.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def make_sampler(
    dataset: Dataset, *, shuffle: bool, seed: int, drop_last: bool = False
) -> DistributedSampler | None:
    """A DistributedSampler over ``dataset`` when a process group runs, else None."""
    info = current()
    if not info.distributed:
        return None
    return DistributedSampler(
        dataset,
        num_replicas=info.world_size,
        rank=info.rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _detach(obj: Any) -> Any:
    """Tensors -> NumPy arrays (recursively), so results cross the process boundary by value."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {k: _detach(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_detach(v) for v in obj)
    return obj


def _spawn_entry(
    rank: int, world_size: int, port: int, fn: Callable[..., Any], args: tuple, queue: Any
) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        queue.put((rank, _detach(fn(rank, world_size, *args))))
    finally:
        dist.destroy_process_group()


def spawn_local(fn: Callable[..., Any], world_size: int = 2, args: tuple = ()) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` on ``world_size`` local CPU processes (gloo).

    A test helper: each process joins a gloo process group on 127.0.0.1 at a free port, and
    the return values come back ordered by rank, with every tensor turned into a NumPy array
    (tensors would travel through shared memory that dies with the process). ``fn`` must be
    importable (defined at module level) and its results small (they pass through a pipe).
    """
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = free_port()
    mp.start_processes(
        _spawn_entry,
        args=(world_size, port, fn, args, queue),
        nprocs=world_size,
        join=True,
        start_method="spawn",
    )
    results = dict(queue.get() for _ in range(world_size))
    return [results[r] for r in range(world_size)]
