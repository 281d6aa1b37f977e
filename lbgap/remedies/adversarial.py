"""Adversarial training on inputs (paper appendix), as Goodfellow et al. 2015 define it: the loss mixes the
clean batch and its adversarial version, α·f(x) + (1 − α)·f(x_adv) with α = 0.5; the attack is FGSM, or
PGD (Madry et al. 2018) with more steps. α = 0 is pure adversarial training (Madry et al.'s)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from lbgap.params.sections import Count, Fraction, NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.batchnorm import kept_buffers
from lbgap.train.loop import derived_seed
from lbgap.train.recipe import Recipe, Step


@dataclass(frozen=True)
class AdversarialOptions:
    radius: NonNegative  # L∞ radius of the perturbation, in input units
    steps: Count  # 1 = FGSM, more = PGD
    clean_weight: Fraction  # α, the clean loss's weight (Goodfellow et al.: 0.5)


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


def adversarial_step(radius: float, steps: int, clean_weight: float, seed: int = 0) -> Step:
    """One step on α·f(x) + (1 − α)·f(x_adv) (α = `clean_weight`; PGD's random starts from a stream derived
    from the run's `seed`). Both passes normalize with their own batch's statistics; the running statistics
    follow the clean pass (the adversarial one runs inside `kept_buffers`), so evaluation normalizes as for
    clean data — with α = 0 there is no clean pass and they follow the adversarial one. Returns the mixed loss."""
    generator = torch.Generator().manual_seed(derived_seed(seed, "attack"))

    def step(model, optimizer, x, y):
        x_adv = adversarial_inputs(model, x, y, radius, steps, generator) if clean_weight < 1 else x
        optimizer.zero_grad(set_to_none=True)
        loss = torch.zeros((), device=x.device)
        # one backward per pass: a BN forward updates the running statistics in place, which the other
        # pass's graph may still hold
        if clean_weight > 0:
            clean = clean_weight * F.cross_entropy(model(x), y)
            clean.backward()
            loss += clean.detach()
        if clean_weight < 1:
            with kept_buffers(model) if clean_weight > 0 else nullcontext():
                adversarial = (1 - clean_weight) * F.cross_entropy(model(x_adv), y)
                adversarial.backward()
            loss += adversarial.detach()
        optimizer.step()
        return loss

    return step


@register_strategy("adversarial", AdversarialOptions, with_small_batch=True)
def adversarial(options: AdversarialOptions, run: Run) -> Recipe:
    step = adversarial_step(radius=options.radius, steps=options.steps, clean_weight=options.clean_weight, seed=run.seed)
    return Recipe(step=step, resumable=False)
