"""Sharpness along training (paper §4): φ of the iterates of one run at chosen epochs, against their
training loss, and (beyond the paper) each iterate's gradient noise scale. The paper found SB and LB
alike early on; as the loss falls, LB sharpness rises fast while SB's stays flat, then falls.

BatchNorm: an iterate a few steps into training (x0 itself, or LB after its 10 steps of epoch 1) carries
running statistics that are mostly the initial ones (momentum 0.1 per step), not its own. With
`bn_statistics: recompute` (default) each measured iterate gets statistics recomputed from the
training set (lbgap.train.batchnorm) for its record and measures; the run's own buffers are restored before
training goes on, so the trajectory itself is the same in both modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from torch import nn

from lbgap.data import DataSet
from lbgap.train.batchnorm import BN_STATISTICS, kept_buffers, recompute_statistics
from lbgap.train.loop import EpochRecord, TrainConfig, epoch_record, fixed_budget, train


@dataclass(frozen=True)
class TrajectoryPoint:
    epoch: int
    train_loss: float  # nats, whole training set, eval mode
    train_accuracy: float  # fraction
    test_accuracy: float  # fraction
    sharpness: float  # φ of the iterate (percent, Metric 2.1)
    noise_scale: float  # B_simple of the iterate (lbgap.measures.noise_scale); nan when not measured


def sharpness_along_training(
    model: nn.Module,
    data: DataSet,
    *,
    batch_size: int,
    at_epochs: Sequence[int],
    config: TrainConfig,
    seed: int,
    measure: Callable[[nn.Module], float],
    amp: bool = False,
    on_point: Callable[[TrajectoryPoint], None] | None = None,
    noise: Callable[[nn.Module], float] | None = None,
    bn_statistics: str = "recompute",
) -> list[TrajectoryPoint]:
    """Train `model` for max(at_epochs) epochs (fixed budget) and measure the iterate after each epoch in
    `at_epochs` (0 = the initial point) with `measure(model)` (and its gradient noise scale with
    `noise(model)` when given). `bn_statistics` "recompute" re-evaluates each measured iterate with
    BN statistics recomputed from `data.train`; "interpolate" keeps the run's own. Returns the points
    in epoch order."""
    if bn_statistics not in BN_STATISTICS:
        raise ValueError(f"bn_statistics must be one of {', '.join(BN_STATISTICS)} (got {bn_statistics!r})")
    wanted = sorted(set(at_epochs))
    if not wanted or wanted[0] < 0:
        raise ValueError(f"at_epochs must be non-empty epochs >= 0 (got {list(at_epochs)})")
    points: list[TrajectoryPoint] = []

    def visit(record: EpochRecord) -> None:
        if record.epoch not in wanted:
            return
        with kept_buffers(model):
            was_training = model.training
            if bn_statistics == "recompute":
                recompute_statistics(model, data.train, config.eval_chunk)
                record = epoch_record(model, data, record.epoch, config.eval_chunk)
            point = TrajectoryPoint(
                record.epoch, record.train_loss, record.train_accuracy, record.test_accuracy, measure(model),
                float("nan") if noise is None else noise(model),
            )
            model.train(was_training)
        points.append(point)
        if on_point is not None:
            on_point(point)

    if wanted[0] == 0:  # train() evaluates x0 too but passes only later epochs to on_epoch
        visit(epoch_record(model, data, 0, config.eval_chunk))
    if wanted[-1] > 0:
        train(model, data, batch_size=batch_size, config=fixed_budget(config, wanted[-1]), seed=seed, amp=amp, on_epoch=visit)
    return points
