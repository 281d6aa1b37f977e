"""Train longer (Hoffer et al. 2017, "regime adaptation"): the LB run gets as many parameter updates as
the SB run of its seed made, i.e. its epoch budget is that run's epochs × (updates per SB epoch ÷
updates per LB epoch) ≈ SB epochs × LB/SB (beyond the paper).

The stopping rule is kept and counted in the same unit: the LB run is evaluated once per
`round(LB/SB)` epochs (about one SB epoch's worth of updates), so `train.patience` records without
improvement still mean about as many updates as in the SB run. If it fires, the run makes fewer updates
than SB's; the remedy's metrics record the count.
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


@register_strategy("matched_updates", MatchedUpdatesOptions)
def matched_updates(options: MatchedUpdatesOptions, run: Run) -> Recipe:
    if run.sb_epochs is None:
        raise ValueError(f"matching updates needs the epochs train@sb's run of seed {run.seed} trained (it has no such run)")
    epochs = matched_epochs(run.sb_epochs, run.small_batch, run.batch_size, run.train_size, options.ratio)
    per_sb_epoch = max(1, round((run.train_size // run.small_batch) / (run.train_size // run.batch_size)))
    return Recipe(max_epochs=epochs, evaluate_every=per_sb_epoch)
