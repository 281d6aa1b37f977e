"""LAMB (You et al. 2020, "Large batch optimization for deep learning: training BERT in 76 minutes"), the
large-batch optimizer: Adam's direction plus decoupled weight decay, rescaled per tensor ("layer") so
that each step moves the tensor by lr × ‖w‖ — a trust ratio ‖w‖/‖r‖. A change of optimizer, so it is
trained at SB as well as LB, with a linear learning-rate warm-up from 0 over `warmup_epochs` (beyond the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lbgap.params.sections import NonNegative, Positive
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


class Lamb(torch.optim.Optimizer):
    """Per tensor w with gradient g, step t (You et al. 2020, Algorithm 2, φ = identity):
        m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  r = m̂ / (√v̂ + eps) + weight_decay · w
        w ← w − lr · (‖w‖ / ‖r‖) · r      (trust ratio 1 when ‖w‖ or ‖r‖ is 0)
    with m̂, v̂ the bias-corrected moments. As in You et al.'s BERT code, tensors of one dimension (biases,
    BatchNorm's γ and β) are excluded from both the trust ratio and the weight decay: they take Adam's
    step lr · m̂ / (√v̂ + eps). The trust ratio is unclipped."""

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid LAMB settings: lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else torch.enable_grad()(closure)()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                state = self.state[w]
                if not state:
                    state.update(t=0, m=torch.zeros_like(w), v=torch.zeros_like(w))
                state["t"] += 1
                m, v, t = state["m"], state["v"], state["t"]
                m.mul_(beta1).add_(w.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(w.grad, w.grad, value=1 - beta2)
                r = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + group["eps"])
                if w.dim() < 2:  # a bias or a normalization parameter: Adam's step
                    w.sub_(group["lr"] * r)
                    continue
                r.add_(w, alpha=group["weight_decay"])
                w_norm, r_norm = w.norm(), r.norm()
                trust = torch.where((w_norm > 0) & (r_norm > 0), w_norm / r_norm, torch.ones_like(w_norm))
                w.sub_(group["lr"] * trust * r)
        return loss


@dataclass(frozen=True)
class LambOptions:
    lr: Positive  # peak learning rate: the fraction of ‖w‖ each tensor moves per step
    weight_decay: NonNegative
    warmup_epochs: NonNegative  # linear warm-up from 0 to lr


@register_strategy("lamb", LambOptions, with_small_batch=True)
def lamb(options: LambOptions, run: Run) -> Recipe:
    def optimizer(parameters, lr, betas):  # the run's betas; the learning rate is LAMB's own
        return Lamb(parameters, lr=options.lr, betas=betas, weight_decay=options.weight_decay)

    def warmup(epochs_done: float) -> float:  # factor of the optimizer's learning rate
        return 1.0 if options.warmup_epochs <= 0 else min(1.0, epochs_done / options.warmup_epochs)

    return Recipe(optimizer=optimizer, learning_rate=warmup)
