"""SGD with (heavy-ball) momentum instead of Adam, compared at SB and at LB with the same settings (the
same tuning rule as the paper's Adam: one learning rate for both batch sizes) (beyond the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lbgap.params.sections import Fraction, Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


@dataclass(frozen=True)
class SgdOptions:
    lr: Positive
    momentum: Fraction


@register_strategy("sgd", SgdOptions, with_small_batch=True)
def sgd(options: SgdOptions, run: Run) -> Recipe:
    def optimizer(parameters, lr, betas):  # the run's Adam settings do not apply
        return torch.optim.SGD(parameters, lr=options.lr, momentum=options.momentum)

    return Recipe(optimizer=optimizer)
