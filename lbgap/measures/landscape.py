"""The loss landscape between two solutions: the paper's parametric 1-D plot (Figure 3).

f(α·x_LB + (1−α)·x_SB) for α over a range that extends past both ends, and (paper appendix) the
curvilinear path f(sin(απ/2)·x_LB + cos(απ/2)·x_SB).

BatchNorm: every point is a network training did not produce, so by default (`bn_statistics:
recompute`) its running statistics are recomputed from the training set before it is evaluated
(lbgap.train.batchnorm). `interpolate` instead blends the statistics with the weights, as loss-landscape (Li
et al. 2018) does, clamping extrapolated variances at 0; outside [0, 1] that produces losses of 10⁴–10⁷
that belong to the clamping, not to the landscape. Integer buffers (BN's `num_batches_tracked`) are a
counter, not a coordinate, and are left as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from lbgap.data import DataSet
from lbgap.train.batchnorm import settle_statistics
from lbgap.train.evaluation import evaluate

State = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class PathPoint:
    alpha: float
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float


@torch.no_grad()
def blend_into(model: nn.Module, start: State, end: State, alpha: float) -> None:
    """Write (1−α)·start + α·end into `model`'s floating-point parameters and buffers, in place.

    torch.lerp computes `end − (1−α)(end − start)` for α ≥ 0.5, so α = 0 and α = 1 give `start` and
    `end` bit for bit.
    """
    for name, tensor in model.state_dict().items():  # state_dict tensors share the model's storage
        if tensor.is_floating_point():
            tensor.copy_(torch.lerp(start[name].to(tensor.device), end[name].to(tensor.device), alpha))


@torch.no_grad()
def combine_into(model: nn.Module, start: State, end: State, a: float, b: float) -> None:
    """Write a·start + b·end into `model`'s floating-point parameters and buffers, in place."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            tensor.copy_(a * start[name].to(tensor.device) + b * end[name].to(tensor.device))


def _path(
    model: nn.Module,
    small_batch: State,
    place: Callable[[float], None],
    alphas: list[float],
    data: DataSet,
    chunk: int,
    on_point: Callable[[PathPoint], None] | None,
    bn_statistics: str,
) -> list[PathPoint]:
    """Evaluate the model after `place(α)` has written the path's point α into it (and its BN
    statistics are settled as `bn_statistics` says), for each α."""
    model.load_state_dict(small_batch)  # integer buffers come from the SB solution
    points = []
    for alpha in alphas:
        place(alpha)
        settle_statistics(model, bn_statistics, data.train, chunk)
        train, test = evaluate(model, data.train, chunk), evaluate(model, data.test, chunk)
        points.append(PathPoint(alpha, train.loss, train.accuracy, test.loss, test.accuracy))
        if on_point is not None:
            on_point(points[-1])
    return points


def linear_path(
    model: nn.Module,
    small_batch: State,
    large_batch: State,
    alphas: list[float],
    data: DataSet,
    *,
    chunk: int = 10_000,
    on_point: Callable[[PathPoint], None] | None = None,
    bn_statistics: str = "recompute",
) -> list[PathPoint]:
    """Train/test loss and accuracy at α·x_LB + (1−α)·x_SB for each α, model in eval mode.

    `model` is any instance of the architecture; its weights are overwritten. α = 0 is the SB
    solution, α = 1 the LB one. `bn_statistics`: "recompute" (from `data.train`, in chunks of `chunk`)
    or "interpolate" (see the module docstring).
    """
    return _path(
        model, small_batch, lambda alpha: blend_into(model, small_batch, large_batch, alpha), alphas, data, chunk, on_point,
        bn_statistics,
    )


def curvilinear_path(
    model: nn.Module,
    small_batch: State,
    large_batch: State,
    alphas: list[float],
    data: DataSet,
    *,
    chunk: int = 10_000,
    on_point: Callable[[PathPoint], None] | None = None,
    bn_statistics: str = "recompute",
) -> list[PathPoint]:
    """Like `linear_path` along sin(απ/2)·x_LB + cos(απ/2)·x_SB: α = 0 is SB, α = 1 is LB (up to
    cos(π/2) ≈ 6e-17); in between the point's norm grows (by √2 at α = 0.5 for orthogonal x)."""

    def place(alpha: float) -> None:
        combine_into(model, small_batch, large_batch, math.cos(alpha * math.pi / 2), math.sin(alpha * math.pi / 2))

    return _path(model, small_batch, place, alphas, data, chunk, on_point, bn_statistics)
