"""SB → LB hybrid: the SB batch size for the first `sb_fraction` of the epoch budget (`train.max_epochs`),
then the LB batch size, in one run with one Adam — the paper's warm start (§4) as a remedy with a chosen
switch point, reported like the others. (The warm_start stage instead restarts Adam from kept SB iterates.)"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lbgap.data import Split
from lbgap.params.sections import Fraction
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import BatchSchedule, Recipe


@dataclass(frozen=True)
class HybridOptions:
    sb_fraction: Fraction  # of train.max_epochs


def switch_schedule(small: int, large: int, sb_epochs: int) -> BatchSchedule:
    """Epochs 1 .. sb_epochs train with `small`, the later ones with `large`."""

    def batch_size(epoch: int, model: nn.Module, split: Split) -> int:
        return small if epoch <= sb_epochs else large

    return batch_size


@register_strategy("hybrid", HybridOptions)
def hybrid(options: HybridOptions, run: Run) -> Recipe:
    return Recipe(batch_size=switch_schedule(run.small_batch, run.batch_size, round(options.sb_fraction * run.max_epochs)))
