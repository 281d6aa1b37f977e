"""2-D loss surfaces (Li et al. 2018, loss-landscape): around one solution along two filter-normalized
random directions, and on the plane through x₀, x_SB and x_LB.

Filter normalization: a random Gaussian direction d is rescaled, for each weight tensor, filter by
filter (each output unit of a Linear layer, each output channel of a convolution) to the norm of the
matching filter of the solution, ‖d_f‖ = ‖w_f‖, which removes the scale ambiguity that makes plain 2-D
plots of differently scaled solutions incomparable. As in loss-landscape's default, directions are zero
for biases and BatchNorm parameters (1-D tensors). On the plane through three solutions every
floating-point tensor is combined with the same coefficients.

BatchNorm: no grid point but the solutions themselves was produced by training, so by default
(`bn_statistics: recompute`) each point's running statistics are recomputed from the evaluated split
before it is evaluated (lbgap.train.batchnorm). `interpolate` keeps the old behaviour: around a solution its
own statistics, on the plane the statistics combined like the weights (variances clamped at 0).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from lbgap.data import Split
from lbgap.tensors import Params, parameters_of
from lbgap.train.batchnorm import kept_buffers, settle_statistics
from lbgap.train.evaluation import evaluate

State = Mapping[str, torch.Tensor]


def filter_normalized_direction(weights: Params, generator: torch.Generator) -> Params:
    """A random direction shaped like `weights`: per filter of every ≥2-D tensor ‖d_f‖ = ‖w_f‖; zero
    for 1-D tensors (biases, BN γ and β)."""
    direction = {}
    for name, w in weights.items():
        if w.dim() <= 1:
            direction[name] = torch.zeros_like(w)
            continue
        d = torch.randn(w.shape, generator=generator).to(w.device, w.dtype)
        w_norm = w.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1)))
        d_norm = d.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1)))
        direction[name] = d * w_norm / d_norm.clamp_min(1e-12)
    return direction


@torch.no_grad()
def surface_around(
    model: nn.Module, split: Split, coordinates: Sequence[float], *, seed: int, chunk: int,
    on_point: Callable[[], None] | None = None, bn_statistics: str = "recompute",
) -> tuple[np.ndarray, np.ndarray]:
    """Loss and accuracy (len(c) × len(c) arrays, [i, j] at a = c[i], b = c[j]) of w + a·d₁ + b·d₂ for
    two filter-normalized directions drawn from `seed`, BN statistics per `bn_statistics` (recomputed
    from `split`). The model is restored to w, buffers included, afterwards."""
    weights = parameters_of(model)
    saved = {name: w.clone() for name, w in weights.items()}
    generator = torch.Generator().manual_seed(seed)
    d1, d2 = filter_normalized_direction(weights, generator), filter_normalized_direction(weights, generator)
    loss, accuracy = np.zeros((len(coordinates),) * 2), np.zeros((len(coordinates),) * 2)
    with kept_buffers(model):
        try:
            for i, a in enumerate(coordinates):
                for j, b in enumerate(coordinates):
                    for name, w in weights.items():
                        w.copy_(saved[name] + a * d1[name] + b * d2[name])
                    settle_statistics(model, bn_statistics, split, chunk)
                    result = evaluate(model, split, chunk)
                    loss[i, j], accuracy[i, j] = result.loss, result.accuracy
                    if on_point is not None:
                        on_point()
        finally:
            for name, w in weights.items():
                w.copy_(saved[name])
    return loss, accuracy


@torch.no_grad()
def surface_through(
    model: nn.Module, origin: State, first: State, second: State, split: Split, coordinates: Sequence[float], *,
    chunk: int, on_point: Callable[[], None] | None = None, bn_statistics: str = "recompute",
) -> tuple[np.ndarray, np.ndarray]:
    """Loss and accuracy ([i, j] at a = c[i], b = c[j]) of origin + a·(first − origin) + b·(second − origin)
    for whole state_dicts: (0, 0) is `origin`, (1, 0) `first`, (0, 1) `second`; BN statistics per
    `bn_statistics` (recomputed from `split`). The model is left at the last point."""
    loss, accuracy = np.zeros((len(coordinates),) * 2), np.zeros((len(coordinates),) * 2)
    targets = model.state_dict()
    for i, a in enumerate(coordinates):
        for j, b in enumerate(coordinates):
            for name, tensor in targets.items():
                if tensor.is_floating_point():
                    o = origin[name].to(tensor.device)
                    tensor.copy_(o + a * (first[name].to(tensor.device) - o) + b * (second[name].to(tensor.device) - o))
            settle_statistics(model, bn_statistics, split, chunk)
            result = evaluate(model, split, chunk)
            loss[i, j], accuracy[i, j] = result.loss, result.accuracy
            if on_point is not None:
                on_point()
    return loss, accuracy
