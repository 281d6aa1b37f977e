"""Square-root learning-rate scaling with warm-up (Hoffer et al. 2017, "Train longer, generalize better"):
the LB run's learning rate is the SB one × √(LB/SB), reached linearly over `warmup_epochs` epochs. The
square root keeps the covariance of the weight updates' noise as at SB (beyond the paper)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lbgap.params.sections import NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe, warmup_scaling


@dataclass(frozen=True)
class SqrtScalingOptions:
    warmup_epochs: NonNegative  # epochs from lr to lr × √(LB/SB)


@register_strategy("sqrt_scaling", SqrtScalingOptions)
def sqrt_scaling(options: SqrtScalingOptions, run: Run) -> Recipe:
    return Recipe(learning_rate=warmup_scaling(math.sqrt(run.batch_size / run.small_batch), options.warmup_epochs))
