"""Sharpness-aware minimization (SAM, Foret et al. 2021) and adaptive SAM (ASAM, Kwon et al. 2021)
around the base optimizer (beyond the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from lbgap.params.sections import NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.batchnorm import kept_buffers
from lbgap.train.recipe import Recipe, Step


@dataclass(frozen=True)
class SamOptions:
    rho: NonNegative  # radius of the ascent step
    adaptive: bool  # ASAM: scale by |w| + eta
    eta: NonNegative


def sam_step(rho: float, adaptive: bool = False, eta: float = 0.01) -> Step:
    """SAM: ε = ρ·g/‖g‖ (ASAM: ε = ρ·T²g/‖Tg‖ with T = |w| + η on weight matrices and kernels, T = 1
    on biases and BatchNorm parameters), take the gradient at w + ε, apply it at w with the base optimizer.

    BatchNorm: both passes normalize with the batch's own statistics (train mode); the running
    statistics are updated by the first pass only (the second runs inside `kept_buffers`).
    """

    def step(model, optimizer, x, y):
        params = [p for p in model.parameters() if p.requires_grad]
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            scales = [(p.abs() + eta) if (adaptive and p.dim() > 1) else torch.ones_like(p) for p in params]
            norm = torch.sqrt(sum(((t * p.grad) ** 2).sum() for t, p in zip(scales, params)))
            originals = [p.clone() for p in params]  # restored exactly below ((w + ε) − ε ≠ w in floats)
            for t, p in zip(scales, params):
                p.add_(rho * t * t * p.grad / (norm + 1e-12))
        with kept_buffers(model):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p, w in zip(params, originals):
                p.copy_(w)
        optimizer.step()
        return loss.detach()

    return step


@register_strategy("sam", SamOptions)
def sam(options: SamOptions, run: Run) -> Recipe:
    return Recipe(step=sam_step(rho=options.rho, adaptive=options.adaptive, eta=options.eta))
