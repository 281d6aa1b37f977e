"""Conservative (proximal) training (paper appendix): each step approximately solves a proximal problem
around the current iterate."""

from __future__ import annotations

from dataclasses import dataclass

from torch.nn import functional as F

from lbgap.params.sections import Count, NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe, Step


@dataclass(frozen=True)
class ConservativeOptions:
    lam: NonNegative  # λ of the proximal term (λ/2)‖x − x_k‖²
    inner_steps: Count  # base-optimizer steps per batch


def conservative_step(lam: float, inner_steps: int) -> Step:
    """x_{k+1} ≈ argmin_x f_B(x) + (λ/2)‖x − x_k‖², solved inexactly by `inner_steps` steps of the
    base optimizer from x_k on the same batch (paper: λ = 1e-3, 3 steps)."""

    def step(model, optimizer, x, y):
        anchor = [p.detach().clone() for p in model.parameters()]
        for _ in range(inner_steps):
            loss = F.cross_entropy(model(x), y)
            proximal = sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor))
            optimizer.zero_grad(set_to_none=True)
            (loss + 0.5 * lam * proximal).backward()
            optimizer.step()
        return loss.detach()

    return step


@register_strategy("conservative", ConservativeOptions, with_small_batch=True)
def conservative(options: ConservativeOptions, run: Run) -> Recipe:
    return Recipe(step=conservative_step(lam=options.lam, inner_steps=options.inner_steps))
