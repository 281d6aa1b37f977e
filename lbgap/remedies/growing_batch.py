"""Growing batch size (Smith et al. 2018, "Don't decay the learning rate, increase the batch size"):
training starts at the SB batch size and multiplies it by `factor` every `every` epochs, up to the LB
batch size, where it stays; the learning rate is constant (beyond the paper).

Smith et al.'s claim is an equivalence: growing the batch where a baseline would decay its learning rate
gives the same result, at the same number of epochs. So the remedy's SB run is that baseline, not plain
SB: batch SB throughout, with the learning rate × SB / (the growing run's batch size of the same epoch),
i.e. divided by `factor` at every growth and by the last, partial factor where the growing run reaches LB.
Both runs keep the same noise scale lr/B at every epoch (Smith & Le's g ≈ εN/B, derived for SGD; with
Adam, Malladi et al.'s square-root rule would pair batch × κ with lr × √κ instead), and both train the
same budget, `train.max_epochs`, with the stopping rule off.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lbgap.data import Split
from lbgap.params import ParamsError
from lbgap.params.sections import Count, Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import BatchSchedule, LearningRate, Recipe


@dataclass(frozen=True)
class GrowingBatchOptions:
    factor: Positive  # batch size multiplier (> 1)
    every: Count  # epochs between increases

    def __post_init__(self) -> None:
        if not self.factor > 1:
            raise ParamsError(f"params: 'mitigation.growing_batch.factor' must be > 1 (got {self.factor})")


def growing_schedule(small: int, large: int, factor: float, every: int) -> BatchSchedule:
    """Epoch e (1-based) trains with min(large, round(small × factor^⌊(e − 1) / every⌋))."""

    def batch_size(epoch: int, model: nn.Module | None = None, split: Split | None = None) -> int:
        return min(large, round(small * factor ** ((epoch - 1) // every)))

    return batch_size


def decaying_rate(small: int, large: int, factor: float, every: int) -> LearningRate:
    """The baseline's learning-rate factor after `epochs_done` (fractional) epochs: small ÷ the growing
    schedule's batch size of the epoch under way."""
    grown = growing_schedule(small, large, factor, every)
    return lambda epochs_done: small / grown(int(epochs_done) + 1)


@register_strategy("growing_batch", GrowingBatchOptions, with_small_batch=True)
def growing_batch(options: GrowingBatchOptions, run: Run) -> Recipe:
    if run.regime == "sb":  # the baseline: SB with the learning rate decayed instead
        return Recipe(learning_rate=decaying_rate(run.small_batch, run.large_batch, options.factor, options.every),
                      stopping_rule=False)
    return Recipe(batch_size=growing_schedule(run.small_batch, run.batch_size, options.factor, options.every),
                  stopping_rule=False)
