"""Warm-started large-batch training ("piggybacking", paper §4).

An SB run keeps its iterate every `every` epochs (epoch 0 included); from each kept iterate an LB run
trains for a fixed budget. The paper found: after few SB epochs the LB solution is as sharp and tests
as badly as a cold LB run; after enough SB epochs it reaches SB-level accuracy with lower sharpness —
the motivation for growing the batch during training.

Each LB run starts a fresh Adam (no moment estimates carried over), with the iterate's weights and
BatchNorm statistics. Kept iterates are CPU copies of the state_dict: memory is (kept iterates) × (model
size), small for the paper's networks at the default `every`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from lbgap.data import DataSet
from lbgap.train.loop import EpochRecord, TrainConfig, fixed_budget, train


@dataclass(frozen=True)
class WarmStartPoint:
    sb_epochs: int  # SB epochs before the switch to LB
    sb_train_loss: float
    sb_test_accuracy: float  # fraction, the SB iterate itself
    lb_train_loss: float
    lb_test_accuracy: float  # fraction, after the LB budget
    lb_sharpness: float  # φ of the warm-started LB solution


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def warm_start(
    model: nn.Module,
    data: DataSet,
    *,
    small_batch: int,
    large_batch: int,
    sb_epochs: int,
    every: int,
    lb_epochs: int,
    config: TrainConfig,
    seed: int,
    measure: Callable[[nn.Module], float],
    amp: bool = False,
    on_point: Callable[[WarmStartPoint], None] | None = None,
) -> list[WarmStartPoint]:
    """Train `model` (its initial weights are x0) with `small_batch` for `sb_epochs`, keeping the iterate
    at epochs 0, every, 2·every, …; then from each, `lb_epochs` epochs with `large_batch`, and measure
    the LB solution with `measure(model)`. `model` is left at the last LB solution."""
    if every < 1:
        raise ValueError(f"every must be >= 1 (got {every})")
    x0 = _cpu_state(model)
    kept: list[tuple[EpochRecord, dict[str, torch.Tensor]]] = []

    def keep(record: EpochRecord) -> None:
        if record.epoch % every == 0:
            kept.append((record, _cpu_state(model)))

    sb_history = train(
        model, data, batch_size=small_batch, config=fixed_budget(config, sb_epochs), seed=seed, amp=amp,
        on_epoch=keep, evaluate_every=every,
    )
    kept.insert(0, (sb_history[0], x0))  # on_epoch is not called for epoch 0
    points = []
    for sb_record, state in kept:
        model.load_state_dict(state)
        lb_end = train(
            model, data, batch_size=large_batch, config=fixed_budget(config, lb_epochs), seed=seed, amp=amp,
            evaluate_every=lb_epochs,
        )[-1]
        point = WarmStartPoint(
            sb_record.epoch, sb_record.train_loss, sb_record.test_accuracy, lb_end.train_loss,
            lb_end.test_accuracy, measure(model),
        )
        points.append(point)
        if on_point is not None:
            on_point(point)
    return points
