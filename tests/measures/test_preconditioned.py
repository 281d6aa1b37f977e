"""lbgap.measures.preconditioned: P⁻¹H's top eigenvalue against a dense eigendecomposition, and the
stability thresholds against the linear recurrences they come from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lbgap.measures.hessian import top_eigenvalue_lanczos
from lbgap.measures.preconditioned import adam_threshold, momentum_threshold, preconditioned


def test_the_preconditioned_top_eigenvalue_is_dense_p_inverse_h():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(30, 30, generator=generator, dtype=torch.float64)
    hessian = a @ a.T / 30 - 0.2 * torch.eye(30, dtype=torch.float64)  # indefinite, as at a real iterate
    diagonal = torch.rand(30, generator=generator, dtype=torch.float64) * 10 + 1e-3
    expected = max(np.linalg.eigvals((hessian / diagonal[:, None]).numpy()).real)  # P⁻¹H, not symmetric
    found = top_eigenvalue_lanczos(preconditioned(lambda v: hessian @ v, diagonal), 30, tol=1e-10, max_iter=30, seed=0,
                                   like=diagonal)
    assert found.converged and found.eigenvalue == pytest.approx(expected, rel=1e-8)
    with pytest.raises(ValueError, match="positive"):
        preconditioned(lambda v: v, torch.tensor([1.0, 0.0]))


def _amplitude(step, curvature: float, steps: int = 400) -> float:
    """|w| after `steps` steps of the optimizer's linear recurrence on f(w) = curvature·w²/2 from w = 1."""
    w, state = 1.0, 0.0
    for _ in range(steps):
        w, state = step(w, state, curvature * w)
    return abs(w)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_heavy_ball_is_stable_just_below_its_threshold_and_not_above(momentum):
    lr = 0.1

    def heavy_ball(w, buffer, g):
        buffer = momentum * buffer + g
        return w - lr * buffer, buffer

    edge = momentum_threshold(lr, momentum)
    assert _amplitude(heavy_ball, 0.99 * edge) < 1 < _amplitude(heavy_ball, 1.01 * edge)


@pytest.mark.parametrize("beta1", [0.0, 0.9])
def test_adam_with_a_frozen_preconditioner_is_stable_just_below_its_threshold_and_not_above(beta1):
    lr, p = 1e-3, 0.05  # P⁻¹H = curvature / p

    def frozen_adam(w, m, g):
        m = beta1 * m + (1 - beta1) * g
        return w - lr * m / p, m

    edge = adam_threshold(lr, beta1) * p  # the curvature whose preconditioned value is the threshold
    assert adam_threshold(1e-3, 0.9) == pytest.approx(38 / 1e-3)
    assert _amplitude(frozen_adam, 0.99 * edge, steps=4000) < 1 < _amplitude(frozen_adam, 1.01 * edge, steps=4000)
