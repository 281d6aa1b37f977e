"""Hoffer et al. 2017's whole recipe ("Train longer, generalize better"): the three changes they combine
to close the gap, together (beyond the paper). Each also runs alone as its own remedy: `sqrt_scaling`,
`ghost_bn`, `matched_updates`.
- learning rate × √(LB/SB), to keep the covariance of the updates' noise as at SB;
- ghost batch normalization over virtual batches of `virtual_batch` samples (theirs: their small batch, 128);
- "regime adaptation": as many updates as the SB run of the seed, the whole budget trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from lbgap.params.sections import Count, NonNegative, Positive
from lbgap.remedies.ghost_bn import ghost_batchnorm
from lbgap.remedies.matched_updates import matched_budget
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe, warmup_scaling


@dataclass(frozen=True)
class HofferOptions:
    virtual_batch: Count  # ghost batch size (Hoffer et al.: their small batch)
    warmup_epochs: NonNegative  # epochs from lr to lr × √(LB/SB) (Hoffer et al.: none, 0)
    ratio: Positive  # LB updates ÷ the SB run's updates (1 = matched)


@register_strategy("hoffer", HofferOptions)
def hoffer(options: HofferOptions, run: Run) -> Recipe:
    return replace(
        matched_budget(run, options.ratio),
        learning_rate=warmup_scaling(math.sqrt(run.batch_size / run.small_batch), options.warmup_epochs),
        prepare=lambda model: ghost_batchnorm(model, options.virtual_batch),
    )
