"""Ghost batch normalization (Hoffer et al. 2017): in training, BatchNorm normalizes each virtual batch
inside the large batch with that virtual batch's own statistics, so the normalization noise is the one
a small batch would see (beyond the paper). A batch of B samples is split into ⌈B / virtual_batch⌉
chunks whose sizes differ by at most one (4000 with virtual_batch 256: 16 × 250), so no chunk is noisier than the rest.

The running statistics are updated once per virtual batch, in order (as Hoffer et al.'s code does), and
evaluation is plain BatchNorm; the trained network's state_dict is the plain network's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from lbgap.params.sections import Count
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


class GhostBatchNorm(nn.modules.batchnorm._BatchNorm):
    """A BatchNorm1d/2d whose training-mode forward normalizes chunks of `virtual_batch` samples
    separately (the last chunk may be smaller). Same parameters and buffers as the layer it replaces."""

    def __init__(self, layer: nn.modules.batchnorm._BatchNorm, virtual_batch: int):
        super().__init__(layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
        self.load_state_dict(layer.state_dict())
        like = layer.weight if layer.affine else next(iter(layer.buffers()))
        self.to(device=like.device, dtype=like.dtype)
        self.virtual_batch = virtual_batch

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() not in (2, 3, 4):
            raise ValueError(f"expected a 2-D, 3-D or 4-D input (got {input.dim()}-D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        parts = []
        for chunk in torch.tensor_split(x, math.ceil(len(x) / self.virtual_batch)):
            momentum = 0.0 if self.momentum is None else self.momentum
            if self.track_running_stats:
                self.num_batches_tracked.add_(1)
                if self.momentum is None:  # cumulative moving average, as nn.BatchNorm does
                    momentum = 1.0 / float(self.num_batches_tracked)
            parts.append(F.batch_norm(
                chunk, self.running_mean, self.running_var, self.weight, self.bias, True, momentum, self.eps,
            ))
        return torch.cat(parts)


def ghost_batchnorm(model: nn.Module, virtual_batch: int) -> nn.Module:
    """`model` with every BatchNorm layer replaced in place by a GhostBatchNorm of `virtual_batch`."""
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, GhostBatchNorm(child, virtual_batch))
        else:
            ghost_batchnorm(child, virtual_batch)
    return model


@dataclass(frozen=True)
class GhostBnOptions:
    virtual_batch: Count  # samples per virtual batch, at most (Hoffer et al.: their small batch size)


@register_strategy("ghost_bn", GhostBnOptions)
def ghost_bn(options: GhostBnOptions, run: Run) -> Recipe:
    return Recipe(prepare=lambda model: ghost_batchnorm(model, options.virtual_batch))
