"""Which device computes, and mixed precision there.

`device: auto` picks CUDA when torch sees a GPU, else Apple's MPS, else the CPU. Networks and their
initial points x0 are always built on the CPU first (same x0 on every device); training, evaluation,
sharpness and interpolation then run on the chosen device. On the CPU, runs are bit-for-bit
deterministic for fixed seeds; on GPUs cuDNN's kernels may differ in the last bits between runs.

Mixed precision (`amp: true`) is used for the training steps on CUDA only, with bfloat16 autocast
(no loss scaling needed); evaluation and every measurement (sharpness, interpolation) stay in float32.
"""

from __future__ import annotations

import contextlib
from typing import get_args

import torch

from lbgap.params.sections import Device

DEVICES = get_args(Device)


def resolve_device(name: str) -> torch.device:
    """The torch.device for a `device` param; asking for one that is not there is a ValueError."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (got {name!r})")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ValueError(f"device {name} requested but torch finds none on this machine (device: auto falls back to cpu)")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when `enabled`; a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def free_memory(device: torch.device) -> int | None:
    """Free bytes on `device` as its driver reports them (CUDA); None where torch cannot tell (CPU, MPS)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return None
