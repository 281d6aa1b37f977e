"""Linear learning-rate scaling with gradual warm-up (Goyal et al. 2017): the LB run's learning rate is
the SB one × LB/SB, reached linearly over the first `warmup_epochs` epochs (beyond the paper).

Goyal et al. derived the rule for SGD; here it scales the paper's Adam, whose step does not grow with
the gradient, so ×LB/SB is aggressive (×15.6 at the defaults): a run that diverges stops (lbgap.train.loop)."""

from __future__ import annotations

from dataclasses import dataclass

from lbgap.params.sections import NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe, warmup_scaling


@dataclass(frozen=True)
class LinearScalingOptions:
    warmup_epochs: NonNegative  # epochs from lr to lr × LB/SB (Goyal et al.: 5)


@register_strategy("linear_scaling", LinearScalingOptions)
def linear_scaling(options: LinearScalingOptions, run: Run) -> Recipe:
    return Recipe(learning_rate=warmup_scaling(run.batch_size / run.small_batch, options.warmup_epochs))
