"""The sharpness metric of Keskar et al. (ICLR 2017), Metric 2.1.

For parameters x ∈ Rⁿ, a matrix A ∈ R^{n×p} and ε > 0:

    C_ε = { z ∈ R^p : |z_i| ≤ ε (|(A⁺x)_i| + 1) }
    φ_{x,f}(ε, A) = 100 · (max_{y ∈ C_ε} f(x + A y) − f(x)) / (1 + f(x))

Full space: A = Iₙ (pass `A=None`; nothing n × n is built). Subspace: `random_subspace` gives A with
i.i.d. standard-normal entries as an operator that is never stored whole (`lbgap.measures.subspace`: A y, Aᵀ g
and A⁺x = (AᵀA)⁻¹Aᵀx, the Moore–Penrose pseudo-inverse for A of full column rank, true with
probability one).

The maximum is found inexactly, as in the paper, with `max_iter` iterations of scipy's L-BFGS-B on
−f. Where L-BFGS-B starts matters: at a well-converged minimizer ∇f(x) ≈ 0, so started at y = 0 it
would stop at once and report φ ≈ 0. We start from a point drawn uniformly from the box (seeded).
The reported maximum is the largest f seen at any point L-BFGS-B evaluated; all of them lie in the box.
The tolerances are zero, so the search ends only after `max_iter` iterations or when the line search
can make no more progress (the record keeps iterations, evaluations and scipy's stopping message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy.optimize import Bounds, minimize
from torch import nn

from lbgap.data import Split
from lbgap.measures.subspace import DenseSubspace, Subspace
from lbgap.tensors import flatten, parameters_of
from lbgap.train.evaluation import loss_and_grad, loss_at

# f(w) and ∇f(w) for a flat parameter vector w (n,)
LossAndGrad = Callable[[torch.Tensor], tuple[float, torch.Tensor]]


@dataclass(frozen=True)
class Sharpness:
    phi: float  # the metric, in percent of (1 + f(x))
    loss_at_x: float  # f(x)
    loss_max: float  # max f(x + A y) found over the box
    iterations: int  # L-BFGS-B iterations taken
    evaluations: int  # f and ∇f evaluations
    message: str  # L-BFGS-B's stopping reason


def box_half_widths(x: torch.Tensor, eps: float, A: Subspace | None, offset: float = 1.0) -> np.ndarray:
    """ε (|A⁺x| + offset) as float64 (p,), with A⁺x = x in the full space. The paper's offset is 1;
    offset η → 0 makes the box scale with the weights (adaptive sharpness, see lbgap.measures.flatness)."""
    coords = x.detach().double().cpu() if A is None else A.pinv_apply(x.detach())
    return (eps * (coords.abs() + offset)).numpy()


def sharpness(
    f: LossAndGrad,
    x: torch.Tensor,
    eps: float,
    A: Subspace | torch.Tensor | None = None,
    *,
    max_iter: int = 10,
    seed: int = 0,
    on_evaluation: Callable[[], None] | None = None,
    offset: float = 1.0,
    loss_at_x: float | None = None,
) -> Sharpness:
    """φ_{x,f}(ε, A) for f given as `f(w) -> (loss, grad)` over flat parameters w (n,) float32 on any device.

    `A` is a `Subspace` operator, an explicit (n, p) tensor, or None for the full space.
    `on_evaluation` is called after each f evaluation (for progress bars). `offset` replaces the 1 in
    the box ε(|A⁺x| + 1); it must be > 0 or every coordinate must be non-zero (a zero-width box side
    is allowed: that coordinate is then held fixed). `loss_at_x`: f(x) when the caller has it (one
    evaluation fewer; several ε and subspaces at one solution share it).
    """
    if eps <= 0:
        raise ValueError(f"epsilon must be > 0 (got {eps})")
    if isinstance(A, torch.Tensor):
        A = DenseSubspace(A)
    x = x.detach()
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (got {offset})")
    half = box_half_widths(x, eps, A, offset)
    if loss_at_x is None:
        loss_at_x, _ = f(x)
    if not (np.isfinite(half).all() and np.isfinite(loss_at_x)):  # a diverged run: no box, no maximum
        nan = float("nan")
        return Sharpness(nan, float(loss_at_x), nan, 0, 0, "not measured: non-finite weights or loss")
    best = {"loss": loss_at_x}

    def negative_f(y: np.ndarray) -> tuple[float, np.ndarray]:
        y_t = torch.from_numpy(y).to(x.device, x.dtype)
        loss, grad = f(x + (y_t if A is None else A.matvec(y_t).to(x.dtype)))
        best["loss"] = max(best["loss"], loss)
        if on_evaluation is not None:
            on_evaluation()
        grad_y = grad if A is None else A.rmatvec(grad)  # chain rule: ∂f/∂y = Aᵀ ∇f
        return -loss, -grad_y.double().cpu().numpy()

    y0 = np.random.default_rng(seed).uniform(-half, half)
    result = minimize(
        negative_f,
        y0,
        jac=True,
        method="L-BFGS-B",
        bounds=Bounds(-half, half),  # arrays, not n (lo, hi) pairs: scipy converts those slowly
        # ftol = gtol = 0: near a minimizer of f the ascent starts on a flat region where scipy's default
        # tolerances end the search after one iteration; the metric asks for `max_iter` iterations.
        options={"maxiter": max_iter, "ftol": 0.0, "gtol": 0.0},
    )
    loss_max = best["loss"]
    return Sharpness(
        phi=100.0 * (loss_max - loss_at_x) / (1.0 + loss_at_x),
        loss_at_x=loss_at_x,
        loss_max=loss_max,
        iterations=int(result.nit),
        evaluations=int(result.nfev),
        message=str(result.message),
    )


def sharpness_of_model(
    model: nn.Module,
    train: Split,
    eps: float,
    A: Subspace | torch.Tensor | None = None,
    *,
    chunk: int = 10_000,
    max_iter: int = 10,
    seed: int = 0,
    on_evaluation: Callable[[], None] | None = None,
    offset: float = 1.0,
    loss_at_x: float | None = None,
) -> Sharpness:
    """φ of `model` at its current weights, f = mean cross-entropy over the whole `train` split with
    the model in eval mode (dropout off; BatchNorm as the model was built: running statistics, or
    batch statistics of each `chunk` for networks built with batchnorm "batch"). `train` must be on
    the model's device. f(x) is `loss_at_x` when given (`model_loss`), else one forward pass."""
    model.eval()
    like = parameters_of(model)
    x = flatten(like)
    return sharpness(
        lambda w: loss_and_grad(model, w, like, train, chunk),
        x,
        eps,
        A,
        max_iter=max_iter,
        seed=seed,
        on_evaluation=on_evaluation,
        offset=offset,
        loss_at_x=loss_at(model, x, like, train, chunk) if loss_at_x is None else loss_at_x,
    )


def model_loss(model: nn.Module, train: Split, chunk: int) -> float:
    """f at the model's current weights, as `sharpness_of_model` defines it (eval mode, whole split):
    compute it once and pass it as `loss_at_x` to every φ at the same weights."""
    model.eval()
    like = parameters_of(model)
    return loss_at(model, flatten(like), like, train, chunk)




def full_space_probe(train: Split, eps: float, *, chunk: int, max_iter: int, seed: int) -> Callable[[nn.Module], float]:
    """model ↦ φ(ε, A = I) of the model's current weights over `train` (the experiments' one number per
    solution: the batch-size sweep, warm start and sharpness along training)."""
    return lambda model: sharpness_of_model(model, train, eps, None, chunk=chunk, max_iter=max_iter, seed=seed).phi
