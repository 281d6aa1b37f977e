"""Orthogonal initialization (Saxe et al. 2014) instead of PyTorch's default, compared at SB and at LB:
every weight matrix (and convolution kernel, as a matrix of out-channels × the rest) is drawn as a
random orthogonal matrix × `gain`; biases and BatchNorm keep their defaults (beyond the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lbgap.params.sections import Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.loop import derived_seed
from lbgap.train.recipe import Recipe


def orthogonal_weights(model: nn.Module, gain: float, seed: int) -> nn.Module:
    """`model` with its Linear and Conv weights replaced in place by orthogonal draws × `gain` (seeded)."""
    generator = torch.Generator().manual_seed(derived_seed(seed, "init"))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
                drawn = torch.empty(module.weight.shape)
                nn.init.orthogonal_(drawn, gain=gain, generator=generator)
                module.weight.copy_(drawn)
    return model


@dataclass(frozen=True)
class OrthogonalInitOptions:
    gain: Positive


@register_strategy("orthogonal_init", OrthogonalInitOptions, with_small_batch=True)
def orthogonal_init(options: OrthogonalInitOptions, run: Run) -> Recipe:
    return Recipe(prepare=lambda model: orthogonal_weights(model, options.gain, run.seed))
