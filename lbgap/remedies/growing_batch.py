"""Growing batch size (Smith et al. 2018, "Don't decay the learning rate, increase the batch size"):
training starts at the SB batch size and multiplies it by `factor` every `every` epochs, up to the LB
batch size, where it stays; the learning rate is constant (beyond the paper)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lbgap.data import Split
from lbgap.params import ParamsError
from lbgap.params.sections import Count, Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import BatchSchedule, Recipe


@dataclass(frozen=True)
class GrowingBatchOptions:
    factor: Positive  # batch size multiplier (> 1)
    every: Count  # epochs between increases

    def __post_init__(self) -> None:
        if not self.factor > 1:
            raise ParamsError(f"params: 'mitigation.growing_batch.factor' must be > 1 (got {self.factor})")


def growing_schedule(small: int, large: int, factor: float, every: int) -> BatchSchedule:
    """Epoch e (1-based) trains with min(large, round(small × factor^⌊(e − 1) / every⌋))."""
    if factor <= 1 or every < 1 or not 0 < small <= large:
        raise ValueError(f"need factor > 1, every >= 1 and 0 < small <= large (got {factor}, {every}, {small}, {large})")

    def batch_size(epoch: int, model: nn.Module, split: Split) -> int:
        return min(large, round(small * factor ** ((epoch - 1) // every)))

    return batch_size


@register_strategy("growing_batch", GrowingBatchOptions)
def growing_batch(options: GrowingBatchOptions, run: Run) -> Recipe:
    return Recipe(batch_size=growing_schedule(run.small_batch, run.batch_size, options.factor, options.every))
