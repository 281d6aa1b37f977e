"""Adversarial (robust) training on inputs (paper appendix): FGSM, or PGD with more steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from lbgap.params.sections import Count, NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.batchnorm import kept_buffers
from lbgap.train.loop import derived_seed
from lbgap.train.recipe import Recipe, Step, plain_step


@dataclass(frozen=True)
class AdversarialOptions:
    radius: NonNegative  # L∞ radius of the perturbation, in input units
    steps: Count  # 1 = FGSM, more = PGD


def adversarial_inputs(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, radius: float, steps: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Projected gradient ascent on the batch loss within the L∞ ball of `radius` around x.

    steps = 1 is FGSM (one signed step of size `radius` from x); more steps are PGD (Madry et al.):
    a uniformly random start in the ball (drawn on the CPU from `generator`), then steps of size
    2.5·radius/steps. The attack sees the network the update will see: train mode (BatchNorm normalizes
    with the batch's statistics), with every BN buffer restored afterwards so the attack's forward
    passes do not count as batches in the running statistics."""
    step_size = radius if steps == 1 else 2.5 * radius / steps
    x_adv = x.detach().clone()
    if steps > 1:
        start = torch.rand(x.shape, generator=generator) * 2 - 1  # uniform in [-1, 1]
        x_adv = x_adv + radius * start.to(x.device, x.dtype)
    was_training = model.training
    model.train()
    with kept_buffers(model):
        for _ in range(steps):
            x_adv.requires_grad_(True)
            (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
            x_adv = (x_adv.detach() + step_size * grad.sign()).clamp(x - radius, x + radius)
    model.train(was_training)
    return x_adv.detach()


def adversarial_step(radius: float, steps: int, seed: int = 0) -> Step:
    """A plain step on the adversarial version of each batch (PGD's random starts from a stream derived
    from the run's `seed`)."""
    if radius < 0 or steps < 1:
        raise ValueError(f"adversarial training needs radius >= 0 and steps >= 1 (got radius={radius}, steps={steps})")
    generator = torch.Generator().manual_seed(derived_seed(seed, "attack"))

    def step(model, optimizer, x, y):
        return plain_step(model, optimizer, adversarial_inputs(model, x, y, radius, steps, generator), y)

    return step


@register_strategy("adversarial", AdversarialOptions)
def adversarial(options: AdversarialOptions, run: Run) -> Recipe:
    return Recipe(step=adversarial_step(radius=options.radius, steps=options.steps, seed=run.seed), resumable=False)
