"""BatchNorm running statistics at weights that training did not produce.

A network evaluated in eval mode normalizes with running statistics that training collected for *its
own* weights. At an interpolated, extrapolated or perturbed point (the parametric plots, the 2-D
surfaces, the x0–SB–LB plane) or at an early iterate whose exponential averages still remember x0
(sharpness along training), those statistics belong to other weights. Blending them is biased inside
[0, 1] and wrong outside it (a variance extrapolates below zero; clamped to 0, BatchNorm then divides by
√1e-5, a ≈ 300× gain). The mode-connectivity literature (Garipov et al. 2018; Frankle et al. 2020)
recomputes them instead: reset, one no-grad train-mode pass over the training data with a cumulative
average (`momentum=None`), then evaluate in eval mode. `torch.optim.swa_utils.update_bn` does exactly
that; we feed it fixed-size chunks so memory stays bounded.

Modes (param `bn_statistics`): "recompute" (the default) and "interpolate" (the statistics are carried
along with the weights, the behaviour before recomputation existed, kept for comparison). Networks
built with `batchnorm: batch` keep no running statistics, so there is nothing to recompute.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, get_args

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from lbgap.data import Split
from lbgap.params.sections import BNStatistics

BN_STATISTICS = get_args(BNStatistics)


def has_running_statistics(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats for m in model.modules())


def recompute_statistics(model: nn.Module, split: Split, chunk: int, *, seed: int = 0) -> None:
    """Reset every BatchNorm's running mean and variance and refill them with the cumulative average
    over `split` in chunks of `chunk` samples (one no-grad train-mode pass; each chunk's batch mean and
    unbiased variance count equally, so a short last chunk weighs as much as a full one). The model's train/eval mode is restored. Dropout, active in train
    mode, draws from a generator seeded by `seed` (the caller's RNG is untouched), so the result is
    reproducible. A network without running statistics is left as it is."""
    if not has_running_statistics(model):
        return
    chunks = (split.x[start : start + chunk] for start in range(0, len(split), chunk))
    device = split.x.device
    # fork the RNG of the device too: torch.manual_seed reseeds CUDA, and whoever calls this in the middle
    # of its own random draws (a training run, say) must find its stream where it left it
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        update_bn(chunks, model)


@contextlib.contextmanager
def kept_buffers(model: nn.Module) -> Iterator[None]:
    """Restore every buffer (BN running statistics and counters) on exit, e.g. after measuring an
    iterate with recomputed statistics in the middle of a training run that must go on unchanged."""
    saved = {name: b.clone() for name, b in model.named_buffers()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(saved[name])


@torch.no_grad()
def settle_statistics(model: nn.Module, mode: str, split: Split, chunk: int) -> None:
    """Make the BN running statistics fit the weights just written into `model`: "recompute" refills
    them from `split`; "interpolate" keeps whatever was written alongside the weights, with running
    variances clamped at 0 (an extrapolated variance can fall below zero and make every output NaN)."""
    if mode == "recompute":
        recompute_statistics(model, split, chunk)
    elif mode == "interpolate":
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.clamp_(min=0.0)
    else:
        raise ValueError(f"bn_statistics must be one of {', '.join(BN_STATISTICS)} (got {mode!r})")
