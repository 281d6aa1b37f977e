"""Down-scaled initialization, compared at SB and at LB: PyTorch's default initial weights × `scale` on
every weight matrix and convolution kernel (biases and BatchNorm unchanged). Behind BatchNorm the
function does not change, but Adam's steps, about lr in size, become larger relative to the weights —
the effective learning rate grows; on the last layer the initial logits shrink (beyond the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lbgap.params.sections import Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


def scaled_weights(model: nn.Module, scale: float) -> nn.Module:
    """`model` with its Linear and Conv weights multiplied in place by `scale`."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
                module.weight.mul_(scale)
    return model


@dataclass(frozen=True)
class ScaledInitOptions:
    scale: Positive  # smaller than 1: smaller than the default


@register_strategy("scaled_init", ScaledInitOptions, with_small_batch=True)
def scaled_init(options: ScaledInitOptions, run: Run) -> Recipe:
    return Recipe(prepare=lambda model: scaled_weights(model, options.scale))
