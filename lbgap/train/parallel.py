"""Data-parallel training across processes (PyTorch DistributedDataParallel under `torchrun`).

Every worker holds the same weights and draws the same sample order from the run's seed; each global
batch is split into `world_size` equal contiguous chunks (`Tensor.tensor_split`) and worker `rank` steps
on its chunk. DDP averages the chunks' gradients, which — the chunks being equal — is the gradient of the
global batch's mean loss, so the update is the single-process one except for BatchNorm: each worker
normalizes by its own chunk's statistics. That is ghost BatchNorm with virtual batch = global batch ÷
workers, chunked the same way (lbgap.remedies.ghost_bn), and tests/stages/test_workers.py checks that the
two give the same parameters. Two things differ from that ghost-BN run: BN's running statistics (used at
evaluation) follow worker 0's chunks only — DDP broadcasts rank 0's buffers before every forward, its
default — where ghost BN updates them once per virtual batch; and each worker draws its own dropout masks
(worker 0 the single-process stream). `SyncBatchNorm` instead normalizes over the whole global batch (CUDA only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Workers:
    rank: int  # this process, 0 .. world_size-1; rank 0 writes the outputs
    world_size: int

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This worker's contiguous chunk of a global batch of indices (B,) → (B / world_size,)."""
        return batch.tensor_split(self.world_size)[self.rank]

    def check_batch_size(self, batch_size: int) -> None:
        """Equal chunks keep the averaged gradient equal to the global batch's: refuse a remainder."""
        if batch_size % self.world_size:
            raise ValueError(f"batch size {batch_size} does not split into {self.world_size} equal worker batches")

    def agree(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's `flag` on every worker (the stopping decision, so no worker trains on alone). The tensor
        lives on `device`, the workers' own: NCCL carries only CUDA tensors, gloo CPU ones."""
        value = torch.tensor([int(flag)], device=device)
        torch.distributed.broadcast(value, src=0)
        return bool(value.item())

    def wrap(self, model: nn.Module) -> nn.Module:
        """`model` under DistributedDataParallel (gradients averaged over workers during backward)."""
        device_ids = [model_device(model)] if model_device(model).type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def synchronized(model: nn.Module) -> nn.Module:
    """`model` with every BatchNorm a SyncBatchNorm (statistics over all workers' chunks; same state_dict names)."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def launched_workers() -> Workers | None:
    """The worker this process is under `torchrun` (its RANK and WORLD_SIZE variables), else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    return Workers(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]))


def local_workers() -> int:
    """Processes torchrun started on this machine (LOCAL_WORLD_SIZE; 1 outside torchrun)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def join(workers: Workers, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo on the CPU. torchrun's variables say where to meet."""
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend, rank=workers.rank, world_size=workers.world_size)


def leave() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
