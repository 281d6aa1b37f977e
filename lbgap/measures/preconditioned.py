"""Sharpness as the optimizer sees it, and the largest sharpness at which it can stay put.

On a quadratic with Hessian H, gradient descent with step η and heavy-ball momentum μ is stable only
while λ_max(H) < (2 + 2μ)/η; Adam with β1, frozen at its diagonal preconditioner P = √v̂ + ε, only while
λ_max(P⁻¹H) < (2 + 2β1)/((1 − β1)·η), 38/η at β1 = 0.9 (Cohen et al. 2021, 2022: training drives the
sharpness up to this edge and hovers there). P⁻¹H is similar to the symmetric P^(−1/2) H P^(−1/2), so its
eigenvalues are real and Lanczos finds the top one from Hessian-vector products.
"""

from __future__ import annotations

from typing import Callable

import torch

MatVec = Callable[[torch.Tensor], torch.Tensor]


def preconditioned(matvec: MatVec, diagonal: torch.Tensor) -> MatVec:
    """v ↦ P^(−1/2) H P^(−1/2) v for `matvec` v ↦ Hv and P = diag(`diagonal`) (positive, flat like v)."""
    if not bool((diagonal > 0).all()):
        raise ValueError("the preconditioner's diagonal must be positive")
    scale = diagonal.rsqrt()
    return lambda v: scale * matvec(scale * v)


def momentum_threshold(learning_rate: float, momentum: float) -> float:
    """(2 + 2μ)/η: the largest λ_max(H) at which heavy-ball gradient descent is stable on a quadratic."""
    return (2 + 2 * momentum) / learning_rate


def adam_threshold(learning_rate: float, beta1: float) -> float:
    """(2 + 2β1)/((1 − β1)η): the largest λ_max(P⁻¹H) at which Adam, its preconditioner P frozen, is stable."""
    return (2 + 2 * beta1) / ((1 - beta1) * learning_rate)
