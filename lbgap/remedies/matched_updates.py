"""Train longer (Hoffer et al. 2017, "regime adaptation"): the LB run makes as many parameter updates as
the SB run of its seed made, i.e. it trains that run's epochs × (updates per SB epoch ÷ updates per LB
epoch) ≈ SB epochs × LB/SB (beyond the paper).

The whole budget is trained: the stopping rule, which would otherwise end the LB run long before it
has made SB's updates, is off (a diverging run still stops). The run is evaluated once per
`round(LB/SB)` epochs, about one SB epoch's worth of updates, so its curve has SB's resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lbgap.params.sections import Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


@dataclass(frozen=True)
class MatchedUpdatesOptions:
    ratio: Positive  # LB updates ÷ the SB run's updates (1 = matched)


def matched_epochs(sb_epochs: int, small_batch: int, large_batch: int, train_size: int, ratio: float = 1.0) -> int:
    """The fewest LB epochs whose updates reach `ratio` × those of `sb_epochs` SB epochs."""
    sb_updates = sb_epochs * (train_size // small_batch)
    return max(1, math.ceil(ratio * sb_updates / (train_size // large_batch)))


def matched_budget(run: Run, ratio: float) -> Recipe:
    """The LB run of `run.seed` trained to `ratio` × the updates of the SB run of that seed, evaluated about
    once per SB epoch's worth of updates, with the stopping rule off."""
    if run.sb_epochs is None:
        raise ValueError(f"matching updates needs the epochs train@sb's run of seed {run.seed} trained (it has no such run)")
    epochs = matched_epochs(run.sb_epochs, run.small_batch, run.batch_size, run.train_size, ratio)
    per_sb_epoch = max(1, round((run.train_size // run.small_batch) / (run.train_size // run.batch_size)))
    return Recipe(max_epochs=epochs, evaluate_every=per_sb_epoch, stopping_rule=False)


@register_strategy("matched_updates", MatchedUpdatesOptions)
def matched_updates(options: MatchedUpdatesOptions, run: Run) -> Recipe:
    return matched_budget(run, options.ratio)
