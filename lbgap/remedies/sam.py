"""Sharpness-aware minimization (SAM, Foret et al. 2021) and adaptive SAM (ASAM, Kwon et al. 2021)
around the base optimizer (beyond the paper), with the perturbation computed per sub-batch of m samples
("m-sharpness"). SAM's gain over the base optimizer needs small m (Foret et al.'s §4: m = 128 per
accelerator; Andriushchenko & Flammarion 2022); m = the whole batch is the textbook formula.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from lbgap.params.sections import Count, NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.batchnorm import kept_buffers
from lbgap.train.recipe import Recipe, Step


@dataclass(frozen=True)
class SamOptions:
    rho: NonNegative  # radius of the ascent step (Foret et al.: 0.05)
    sub_batch: Count | None  # m: samples per perturbation (Foret et al.: 128); null = the whole batch


def sam_step(rho: float, adaptive: bool = False, eta: float = 0.01, sub_batch: int | None = None) -> Step:
    """The batch is split into ⌈B / m⌉ sub-batches (sizes differing by at most one; m = `sub_batch`, None:
    one sub-batch). For each sub-batch i with loss f_i and gradient g_i at w:
        ε_i = ρ·g_i/‖g_i‖  (ASAM: ε_i = ρ·T²g_i/‖T g_i‖, T = |w| + η on every parameter named `weight` —
                            weight matrices, kernels and BatchNorm's γ, as Kwon et al.'s code — and 1 on
                            biases and BatchNorm's β),
    and the update applies Σ_i (B_i/B)·∇f_i(w + ε_i) at w with the base optimizer. Returns the batch's loss
    at w, Σ_i (B_i/B)·f_i(w).

    BatchNorm: each sub-batch is one of Foret et al.'s accelerators, so its two passes normalize with its
    own statistics (as ghost BN with virtual batch m does). The running statistics are updated once per
    step, as their per-device averages are: with the (B_i/B)-weighted mean of the sub-batches' first-pass
    statistics, by the layer's momentum; the second passes leave them alone.
    """

    def step(model, optimizer, x, y):
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        scaled = [adaptive and "weight" in name.rsplit(".", 1)[-1] for name, _ in named]
        originals = [p.detach().clone() for p in params]  # restored exactly ((w + ε) − ε ≠ w in floats)
        parts = 1 if sub_batch is None else math.ceil(len(x) / sub_batch)
        update = [torch.zeros_like(p) for p in params]
        loss = torch.zeros((), device=x.device)
        statistics = _StepStatistics(model)
        for x_i, y_i in zip(torch.tensor_split(x, parts), torch.tensor_split(y, parts)):
            weight = len(x_i) / len(x)
            with statistics.of_pass(weight):
                loss_i = F.cross_entropy(model(x_i), y_i)
                grads = torch.autograd.grad(loss_i, params)
            with torch.no_grad():
                scales = [(p.abs() + eta) if s else torch.ones_like(p) for s, p in zip(scaled, params)]
                norm = torch.sqrt(sum(((t * g) ** 2).sum() for t, g in zip(scales, grads)))
                for t, p, g in zip(scales, params, grads):
                    p.add_(rho * t * t * g / (norm + 1e-12))
            with kept_buffers(model):
                perturbed = torch.autograd.grad(F.cross_entropy(model(x_i), y_i), params)
            with torch.no_grad():
                for p, w, u, g in zip(params, originals, update, perturbed):
                    p.copy_(w)
                    u.add_(g, alpha=weight)
                loss += weight * loss_i.detach()
        statistics.apply()
        optimizer.zero_grad(set_to_none=True)
        for p, u in zip(params, update):
            p.grad = u
        optimizer.step()
        return loss

    return step


class _StepStatistics:
    """One update of every BatchNorm layer's running statistics per step from several sub-batch passes: each
    pass runs with momentum 1 (so the buffers hold that sub-batch's mean and unbiased variance), which are
    read, weighted and summed, and the buffers restored; `apply` then updates them once, with the layer's
    momentum (None: the cumulative average, as nn.BatchNorm), and counts one batch."""

    def __init__(self, model: torch.nn.Module):
        self.layers = [m for m in model.modules()
                       if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.training]
        self.saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in self.layers]
        self.sums = [(torch.zeros_like(m.running_mean), torch.zeros_like(m.running_var)) for m in self.layers]

    @contextmanager
    def of_pass(self, weight: float):
        momenta = [m.momentum for m in self.layers]
        for m in self.layers:
            m.momentum = 1.0
        try:
            yield
        finally:
            with torch.no_grad():
                for m, momentum, (mean, var, count), (mean_sum, var_sum) in zip(self.layers, momenta, self.saved, self.sums):
                    m.momentum = momentum
                    mean_sum.add_(m.running_mean, alpha=weight)
                    var_sum.add_(m.running_var, alpha=weight)
                    m.running_mean.copy_(mean)
                    m.running_var.copy_(var)
                    m.num_batches_tracked.copy_(count)

    @torch.no_grad()
    def apply(self) -> None:
        for m, (mean, var, count), (mean_sum, var_sum) in zip(self.layers, self.saved, self.sums):
            m.num_batches_tracked.copy_(count + 1)
            momentum = m.momentum if m.momentum is not None else 1.0 / float(m.num_batches_tracked)
            m.running_mean.copy_((1 - momentum) * mean + momentum * mean_sum)
            m.running_var.copy_((1 - momentum) * var + momentum * var_sum)


@register_strategy("sam", SamOptions, with_small_batch=True)
def sam(options: SamOptions, run: Run) -> Recipe:
    return Recipe(step=sam_step(rho=options.rho, sub_batch=options.sub_batch))
