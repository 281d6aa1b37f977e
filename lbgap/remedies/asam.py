"""Adaptive SAM (ASAM, Kwon et al. 2021): SAM whose ascent step is scaled per weight by |w| + η, so the
sharpness it minimizes is invariant to rescaling the weights (beyond the paper). The step is SAM's
(lbgap/remedies/sam.py), per sub-batch of m samples."""

from __future__ import annotations

from dataclasses import dataclass

from lbgap.params.sections import Count, NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.remedies.sam import sam_step
from lbgap.train.recipe import Recipe


@dataclass(frozen=True)
class AsamOptions:
    rho: NonNegative  # radius of the scaled ascent step (Kwon et al.: 0.5)
    eta: NonNegative  # T = |w| + eta on weight matrices and kernels (Kwon et al.: 0.01)
    sub_batch: Count | None  # m, as for SAM


@register_strategy("asam", AsamOptions, with_small_batch=True)
def asam(options: AsamOptions, run: Run) -> Recipe:
    return Recipe(step=sam_step(rho=options.rho, adaptive=True, eta=options.eta, sub_batch=options.sub_batch))
