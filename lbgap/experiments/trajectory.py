"""Sharpness along training (paper §4): φ of the iterates of one run at chosen epochs, against their
training loss, and (beyond the paper) each iterate's gradient noise scale. The paper found SB and LB
alike early on; as the loss falls, LB sharpness rises fast while SB's stays flat, then falls.

The iterates are those the train stage kept (lbgap.train.seeds `keep_epochs`): the run measured here is
the regime's own training run, not a second one trained for the purpose. Up to the epoch it stopped at,
a run under the stopping rule passes through exactly the iterates of a fixed-budget run with the same
seed (the rule only decides when to stop), so nothing about the paper's experiment changes.

BatchNorm: an iterate a few steps into training (x0 itself, or LB after its 10 steps of epoch 1) carries
running statistics that are mostly the initial ones (momentum 0.1 per step), not its own. With
`bn_statistics: recompute` (default) each measured iterate gets statistics recomputed from the
training set (lbgap.train.batchnorm) for its record and measures; "interpolate" keeps the run's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from lbgap.data import DataSet
from lbgap.measures.sharpness import Sharpness
from lbgap.train.batchnorm import BN_STATISTICS, recompute_statistics
from lbgap.train.loop import epoch_record


@dataclass(frozen=True)
class TrajectoryPoint:
    epoch: int
    train_loss: float  # nats, whole training set, eval mode
    train_accuracy: float  # fraction
    test_accuracy: float  # fraction
    sharpness: float  # φ of the iterate (percent, Metric 2.1)
    sharpness_levelled_off: bool  # the maximizer's certificate held (lbgap.measures.sharpness)
    noise_scale: float  # B_simple of the iterate (lbgap.measures.noise_scale); nan when not measured


def sharpness_along_training(
    model: nn.Module,
    data: DataSet,
    iterates: Sequence[tuple[int, Mapping[str, torch.Tensor]]],
    *,
    chunk: int,
    measure: Callable[[nn.Module], Sharpness],
    on_point: Callable[[TrajectoryPoint], None] | None = None,
    noise: Callable[[nn.Module], float] | None = None,
    bn_statistics: str = "recompute",
) -> list[TrajectoryPoint]:
    """Measure each (epoch, state_dict) of `iterates` (one run's, epoch 0 = x0): its loss and accuracies
    on both splits (eval mode, `chunk` samples per forward pass), `measure(model)` and, when given,
    `noise(model)`. `bn_statistics` "recompute" first recomputes the BN statistics from `data.train`;
    "interpolate" keeps the iterate's own. `model` is left at the last iterate. Returns the points in
    the order given."""
    if bn_statistics not in BN_STATISTICS:
        raise ValueError(f"bn_statistics must be one of {', '.join(BN_STATISTICS)} (got {bn_statistics!r})")
    if not iterates:
        raise ValueError("no iterates to measure")
    points: list[TrajectoryPoint] = []
    for epoch, state in iterates:
        model.load_state_dict(state)
        if bn_statistics == "recompute":
            recompute_statistics(model, data.train, chunk)
        record = epoch_record(model, data, epoch, chunk)
        phi = measure(model)
        point = TrajectoryPoint(
            epoch, record.train_loss, record.train_accuracy, record.test_accuracy, phi.phi, phi.levelled_off,
            float("nan") if noise is None else noise(model),
        )
        points.append(point)
        if on_point is not None:
            on_point(point)
    return points
