"""Adaptive batch size from the gradient noise scale (McCandlish et al. 2018, "An empirical model of
large-batch training"): B_simple = tr(Σ)/|G|² is about the batch size beyond which larger batches stop
saving steps. Training starts at the SB batch size; before every `every`-th epoch the noise scale of the
current weights is measured (lbgap.measures.noise_scale, two batch sizes) and the batch grows to
B_simple, never shrinking and never beyond the LB batch size (beyond the paper).

B_simple grows as the loss falls (|G| shrinks), so the batch follows training toward LB. The
measurement draws from its own generator (seeded by the run seed and the epoch), not the training order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch import nn

from lbgap.data import Split
from lbgap.measures.noise_scale import noise_scale
from lbgap.params import ParamsError
from lbgap.params.sections import AtLeastTwo, Count
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import BatchSchedule, Recipe


@dataclass(frozen=True)
class NoiseEstimate:
    small: Count  # the two batch sizes of the estimator (samples)
    big: AtLeastTwo
    batches: Count  # gradients per batch size

    def __post_init__(self) -> None:
        if self.small >= self.big:
            raise ParamsError("params: 'mitigation.adaptive_batch.noise.small' must be < its 'big'")


@dataclass(frozen=True)
class AdaptiveBatchOptions:
    every: Count  # epochs between measurements
    noise: NoiseEstimate


def next_batch(current: int, b_simple: float, large: int) -> int:
    """The batch after measuring `b_simple`: grow to it, never shrink, at most `large` (nan: keep)."""
    if math.isnan(b_simple):
        return current
    return int(min(large, max(current, round(b_simple))))


def adaptive_schedule(small: int, large: int, every: int, noise: NoiseEstimate, seed: int) -> BatchSchedule:
    """Epoch 1 trains at `small` (x0's noise scale says little); before epoch 1 + k·every the batch grows to the
    measured B_simple (`next_batch`). The schedule remembers its batch within a run and starts over at epoch 1."""
    state = {"batch": small}

    def batch_size(epoch: int, model: nn.Module, split: Split) -> int:
        if epoch == 1:
            state["batch"] = small
        elif (epoch - 1) % every == 0:
            draw = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
            measured = noise_scale(model, split, small=noise.small, big=noise.big, batches=noise.batches, seed=draw)
            state["batch"] = next_batch(state["batch"], measured.b_simple, large)
        return state["batch"]

    return batch_size


@register_strategy("adaptive_batch", AdaptiveBatchOptions)
def adaptive_batch(options: AdaptiveBatchOptions, run: Run) -> Recipe:
    return Recipe(batch_size=adaptive_schedule(run.small_batch, run.batch_size, options.every, options.noise, run.seed),
                  resumable=False)
