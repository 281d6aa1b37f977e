"""The gradient noise scale B_simple = tr(Σ) / |G|² (McCandlish et al. 2018).

G is the full-batch gradient of the mean training loss and Σ the covariance of one sample's gradient.
A mini-batch of B samples drawn with replacement has E|G_B|² = |G|² + tr(Σ)/B, so mean squared
gradient norms at two batch sizes give unbiased estimates of both:
    |G|²  ≈ (B_big |G_big|² − B_small |G_small|²) / (B_big − B_small)
    tr Σ  ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)
B_simple is roughly the batch size beyond which larger batches stop reducing the number of steps; the
report sets it beside the batch size where test accuracy drops. Gradients are taken in eval mode (the
same f as the sharpness metric), so one sample's gradient does not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from lbgap.data import Split
from lbgap.tensors import parameters_of


@dataclass(frozen=True)
class NoiseScale:
    gradient_sq: float  # |G|² estimate
    trace_sigma: float  # tr(Σ) estimate
    b_simple: float  # tr(Σ) / |G|² (samples); nan when either estimate is not positive

    @classmethod
    def from_norms(cls, small: int, small_sq: float, big: int, big_sq: float) -> NoiseScale:
        """The two-batch-size estimator from mean squared gradient norms at batch sizes small < big."""
        if not 0 < small < big:
            raise ValueError(f"need 0 < small < big batch sizes (got {small}, {big})")
        gradient_sq = (big * big_sq - small * small_sq) / (big - small)
        trace_sigma = (small_sq - big_sq) / (1 / small - 1 / big)
        # both are non-negative by definition; a noisy estimate below zero leaves B_simple undefined
        positive = gradient_sq > 0 and trace_sigma > 0
        return cls(gradient_sq, trace_sigma, trace_sigma / gradient_sq if positive else float("nan"))


def batch_gradient_sq(model: nn.Module, split: Split, index: torch.Tensor) -> float:
    """|∇ f_B|² for the batch `index` (mean cross-entropy), eval mode."""
    model.eval()
    weights = {name: w.detach().requires_grad_(True) for name, w in parameters_of(model).items()}
    loss = F.cross_entropy(functional_call(model, weights, (split.x[index],)), split.y[index])
    grads = torch.autograd.grad(loss, list(weights.values()))
    return float(sum((g.double() ** 2).sum() for g in grads))


def check_per_sample(model: nn.Module) -> None:
    """The estimator needs one sample's gradient not to depend on its batch: BatchNorm must normalize
    with running statistics. Networks built with `batchnorm: batch` are refused."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not module.track_running_stats:
            raise ValueError(
                "the gradient noise scale is undefined for a network whose BatchNorm uses batch statistics "
                "at evaluation (batchnorm: batch): one sample's gradient would depend on its batch"
            )


def noise_scale(model: nn.Module, split: Split, *, small: int, big: int, batches: int, seed: int) -> NoiseScale:
    """B_simple from `batches` batches of each size, samples drawn with replacement (seeded, CPU)."""
    check_per_sample(model)
    generator = torch.Generator().manual_seed(seed)
    mean_sq = {}
    for size in (small, big):
        total = 0.0
        for _ in range(batches):
            index = torch.randint(0, len(split), (size,), generator=generator).to(split.x.device)
            total += batch_gradient_sq(model, split, index)
        mean_sq[size] = total / batches
    return NoiseScale.from_norms(small, mean_sq[small], big, mean_sq[big])


def noise_scale_exact(model: nn.Module, split: Split, chunk: int = 256) -> NoiseScale:
    """|G|², tr Σ (population covariance) and B_simple from every sample's own gradient (torch.func
    vmap over samples): exact, for checking the estimator on small problems."""
    model.eval()
    weights = {name: w.detach() for name, w in parameters_of(model).items()}

    def one_loss(w, x, y):
        return F.cross_entropy(functional_call(model, w, (x.unsqueeze(0),)), y.unsqueeze(0))

    per_sample = vmap(grad(one_loss), in_dims=(None, 0, 0))
    sum_grad = {name: torch.zeros_like(w, dtype=torch.float64) for name, w in weights.items()}
    sum_sq = 0.0
    for start in range(0, len(split), chunk):
        g = per_sample(weights, split.x[start : start + chunk], split.y[start : start + chunk])
        for name, value in g.items():
            sum_grad[name] += value.double().sum(0)
            sum_sq += float((value.double() ** 2).sum())
    n = len(split)
    gradient_sq = float(sum(((s / n) ** 2).sum() for s in sum_grad.values()))
    trace_sigma = sum_sq / n - gradient_sq
    return NoiseScale(gradient_sq, trace_sigma, trace_sigma / gradient_sq)
