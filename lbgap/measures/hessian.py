"""Curvature of the training loss from Hessian-vector products: Lanczos, power iteration, Hutchinson's
trace and stochastic Lanczos quadrature (SLQ) for the eigenvalue density — PyHessian's toolbox.

H is never formed: `hessian_operator` gives v ↦ H v for the mean cross-entropy over a split by double
backpropagation, chunk by chunk (model in eval mode: the same f as the sharpness metric). Vectors are
flat (n,) tensors laid out as `tensors.flatten(parameters_of(model))`.

Lanczos keeps every basis vector and re-orthogonalizes against all of them (in the vectors' dtype), so
its memory is iterations × n; with n in the millions keep `iterations` modest.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from lbgap.data import Split
from lbgap.models import use_batch_statistics
from lbgap.tensors import flatten, parameters_of, unflatten

MatVec = Callable[[torch.Tensor], torch.Tensor]  # v (n,) ↦ H v (n,)


def hessian_operator(model: nn.Module, split: Split, chunk: int, *, batch_statistics: bool = False) -> tuple[MatVec, int]:
    """(v ↦ ∇²f(w) v, n) for f = mean cross-entropy of `model` over `split` at its current weights w.

    When the split fits in one chunk (the curvature subset does), the gradient's graph is built once
    and every product is one more backward pass through it (double backpropagation, graph retained);
    otherwise each product recomputes it chunk by chunk (about two gradient evaluations over the
    split), so memory stays that of one chunk. The model is put in eval mode; with `batch_statistics`,
    a copy of it is used instead, its BatchNorm layers normalizing with each chunk's own statistics — the
    loss that training descends, whose curvature decides whether a step is stable (the copy keeps the
    model's running statistics as they were)."""
    model.eval()
    if batch_statistics:
        model = use_batch_statistics(copy.deepcopy(model))
    like = parameters_of(model)
    w0 = flatten(like)

    def chunk_gradient(w: torch.Tensor, start: int) -> torch.Tensor:
        x, y = split.x[start : start + chunk], split.y[start : start + chunk]
        loss = F.cross_entropy(functional_call(model, unflatten(w, like), (x,)), y, reduction="sum") / len(split)
        (grad,) = torch.autograd.grad(loss, w, create_graph=True)
        return grad

    if len(split) <= chunk:
        w = w0.clone().requires_grad_(True)
        grad = chunk_gradient(w, 0)  # one graph for every product

        def matvec(v: torch.Tensor) -> torch.Tensor:
            (hv,) = torch.autograd.grad(grad @ v, w, retain_graph=True)
            return hv

        return matvec, w0.numel()

    def matvec_by_chunks(v: torch.Tensor) -> torch.Tensor:
        w = w0.clone().requires_grad_(True)
        total = torch.zeros_like(w0)
        for start in range(0, len(split), chunk):
            (hv,) = torch.autograd.grad(chunk_gradient(w, start) @ v, w)
            total += hv
        return total

    return matvec_by_chunks, w0.numel()


def _random_unit(n: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    v = torch.randn(n, generator=generator, dtype=like.dtype).to(like.device)
    return v / torch.linalg.vector_norm(v)


@dataclass(frozen=True)
class Tridiagonal:
    alpha: np.ndarray  # (m,) diagonal of T = Qᵀ H Q
    beta: np.ndarray  # (m − 1,) off-diagonal
    residual: float  # β_m, the norm of the part of H q_m outside the Krylov space (0: invariant space found)


@dataclass(frozen=True)
class PowerResult:
    eigenvalue: float  # the dominant eigenvalue (largest in magnitude)
    iterations: int  # Hessian-vector products used
    converged: bool


def _lanczos_steps(matvec: MatVec, start: torch.Tensor, iterations: int) -> Iterator[Tridiagonal]:
    """Lanczos with full re-orthogonalization: yields T (j × j) after each step j = 1 .. iterations,
    stopping early when the Krylov space closes."""
    basis = [start / torch.linalg.vector_norm(start)]
    alpha: list[float] = []
    beta: list[float] = []
    for _ in range(iterations):
        w = matvec(basis[-1])
        alpha.append(float(w @ basis[-1]))
        Q = torch.stack(basis)
        for _ in range(2):  # twice is enough (Giraud et al.): keeps Q orthogonal to working precision
            w = w - Q.T @ (Q @ w)
        norm = float(torch.linalg.vector_norm(w))
        yield Tridiagonal(np.array(alpha), np.array(beta), norm)
        if norm <= 1e-10 * max(1.0, abs(alpha[-1])):
            return
        beta.append(norm)
        basis.append(w / norm)


def lanczos(matvec: MatVec, start: torch.Tensor, iterations: int) -> Tridiagonal:
    """T (m × m) after m ≤ iterations Lanczos steps from `start` (normalized here; fewer steps if the
    Krylov space closes early). T's eigenvalues are the Ritz values."""
    for t in _lanczos_steps(matvec, start, iterations):
        pass
    return t


def top_eigenvalue_lanczos(matvec: MatVec, n: int, *, tol: float, max_iter: int, seed: int, like: torch.Tensor) -> PowerResult:
    """The largest eigenvalue by Lanczos, stopped when the top Ritz value changes by less than `tol`
    relative between steps — the same rule as `power_iteration`, for a like-for-like comparison."""
    start = _random_unit(n, torch.Generator().manual_seed(seed), like)
    value = None
    for j, t in enumerate(_lanczos_steps(matvec, start, min(max_iter, n)), start=1):
        new = float(ritz(t)[0][-1])
        if value is not None and abs(new - value) <= tol * abs(value):
            return PowerResult(new, j, True)
        value = new
    return PowerResult(value, j, t.residual <= 1e-10 * max(1.0, abs(value)))


def ritz(t: Tridiagonal) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors (columns) of the tridiagonal T."""
    if len(t.alpha) == 1:
        return t.alpha.copy(), np.ones((1, 1))
    return eigh_tridiagonal(t.alpha, t.beta)


def top_eigenvalues(matvec: MatVec, n: int, k: int, *, iterations: int, seed: int, like: torch.Tensor) -> np.ndarray:
    """The k largest (algebraic) Hessian eigenvalues, descending, as Ritz values of `iterations` Lanczos
    steps from a seeded random start. The extreme eigenvalues converge first."""
    generator = torch.Generator().manual_seed(seed)
    values, _ = ritz(lanczos(matvec, _random_unit(n, generator, like), min(iterations, n)))
    return values[::-1][:k].copy()


def power_iteration(matvec: MatVec, n: int, *, tol: float, max_iter: int, seed: int, like: torch.Tensor) -> PowerResult:
    """The dominant eigenvalue by the power method, stopped when the Rayleigh quotient changes by less
    than `tol` relative between steps (PyHessian's rule)."""
    v = _random_unit(n, torch.Generator().manual_seed(seed), like)
    value = None
    for i in range(1, max_iter + 1):
        hv = matvec(v)
        new = float(hv @ v)
        v = hv / torch.linalg.vector_norm(hv)
        if value is not None and abs(new - value) <= tol * abs(value):
            return PowerResult(new, i, True)
        value = new
    return PowerResult(value, max_iter, False)


@dataclass(frozen=True)
class TraceEstimate:
    trace: float  # mean of zᵀHz over the probes
    standard_error: float  # sample std / √probes
    probes: int
    converged: bool  # standard_error ≤ tol · |trace| reached before max_probes


def hutchinson_trace(
    matvec: MatVec, n: int, *, tol: float, min_probes: int, max_probes: int, seed: int, like: torch.Tensor
) -> TraceEstimate:
    """tr(H) ≈ mean of zᵀHz over Rademacher probes z (E zzᵀ = I), adding probes until the standard error
    is at most `tol` relative to the estimate (at least `min_probes`, at most `max_probes`)."""
    generator = torch.Generator().manual_seed(seed)
    samples: list[float] = []
    while len(samples) < max_probes:
        z = (torch.randint(0, 2, (n,), generator=generator) * 2 - 1).to(like.device, like.dtype)
        samples.append(float(z @ matvec(z)))
        if len(samples) >= max(min_probes, 2):
            mean = float(np.mean(samples))
            error = float(np.std(samples, ddof=1) / math.sqrt(len(samples)))
            if error <= tol * abs(mean):
                return TraceEstimate(mean, error, len(samples), True)
    error = float(np.std(samples, ddof=1) / math.sqrt(len(samples))) if len(samples) > 1 else float("nan")
    return TraceEstimate(float(np.mean(samples)), error, len(samples), False)


@dataclass(frozen=True)
class Quadrature:
    nodes: np.ndarray  # (runs · m,) Ritz values
    weights: np.ndarray  # (runs · m,) summing to 1: Σ wᵢ g(θᵢ) ≈ (1/n) tr g(H)


def lanczos_quadrature(matvec: MatVec, start: torch.Tensor, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature of the spectral measure seen from `start`: nodes θ and weights w with
    Σ w θᵏ = vᵀHᵏv / vᵀv exactly for k ≤ 2m − 1 (m Lanczos steps)."""
    values, vectors = ritz(lanczos(matvec, start, iterations))
    return values, vectors[0] ** 2


def slq_density(
    matvec: MatVec, n: int, *, iterations: int, runs: int, seed: int, like: torch.Tensor,
    starts: list[torch.Tensor] | None = None,
) -> Quadrature:
    """Stochastic Lanczos quadrature (Ghorbani et al. 2019, PyHessian): the eigenvalue density as nodes
    and weights pooled over `runs` random Gaussian starts (or the given `starts`), each weighted 1/runs.
    Σ w θᵏ estimates tr(Hᵏ)/n; with the n unit vectors as starts and m ≥ k/2 + 1 it is exact."""
    generator = torch.Generator().manual_seed(seed)
    vectors = starts if starts is not None else [_random_unit(n, generator, like) for _ in range(runs)]
    nodes, weights = [], []
    for start in vectors:
        theta, w = lanczos_quadrature(matvec, start, min(iterations, n))
        nodes.append(theta)
        weights.append(w / len(vectors))
    return Quadrature(np.concatenate(nodes), np.concatenate(weights))


def smooth_density(quadrature: Quadrature, grid: np.ndarray, width: float) -> np.ndarray:
    """The quadrature spread by Gaussians of std `width`: a density on `grid` (integrates to ≈ 1)."""
    diff = (grid[:, None] - quadrature.nodes[None, :]) / width
    return (np.exp(-0.5 * diff**2) / (width * math.sqrt(2 * math.pi))) @ quadrature.weights
