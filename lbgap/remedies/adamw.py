"""AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, the run's learning rate and betas,
compared at SB and at LB with the same settings (beyond the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lbgap.params.sections import NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


@dataclass(frozen=True)
class AdamwOptions:
    weight_decay: NonNegative  # decoupled: w ← w − lr · weight_decay · w each step


@register_strategy("adamw", AdamwOptions, with_small_batch=True)
def adamw(options: AdamwOptions, run: Run) -> Recipe:
    def optimizer(parameters, lr, betas):
        return torch.optim.AdamW(parameters, lr=lr, betas=betas, weight_decay=options.weight_decay)

    return Recipe(optimizer=optimizer)
