"""lbgap.measures.sharpness: Metric 2.1 against closed forms on quadratics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lbgap.train.evaluation import evaluate
from lbgap.models import build_model
from lbgap.measures.sharpness import box_half_widths, model_loss, sharpness, sharpness_of_model
from lbgap.measures.subspace import random_subspace
from lbgap.tensors import flatten, parameters_of


def quadratic(center: torch.Tensor, curvature: torch.Tensor, offset: float):
    """f(w) = offset + ½ Σ h_i (w_i − c_i)²: minimum `offset` at c, gradient h ⊙ (w − c)."""

    def f(w: torch.Tensor):
        d = w - center
        return offset + 0.5 * float((curvature * d * d).sum()), curvature * d

    return f


def test_convex_quadratic_reaches_the_closed_form_maximum():
    # At the minimizer x = c the maximum of a separable convex quadratic over the box sits at a vertex:
    # max f = offset + ½ Σ h_i b_i² with b_i = ε(|x_i| + 1).
    x = torch.tensor([0.5, -2.0, 3.0, 0.0], dtype=torch.float64)
    h = torch.tensor([1.0, 10.0, 0.1, 4.0], dtype=torch.float64)
    eps, offset = 1e-2, 0.3
    result = sharpness(quadratic(x, h, offset), x, eps, seed=3)
    b = eps * (x.abs() + 1)
    expected_max = offset + 0.5 * float((h * b * b).sum())
    assert result.loss_max == pytest.approx(expected_max, rel=1e-9)
    assert result.phi == pytest.approx(100 * (expected_max - offset) / (1 + offset), rel=1e-9)


def test_concave_quadratic_finds_its_interior_maximum():
    # f(w) = 5 − ‖w − x − d‖² with d inside the box: max f = 5 at y = d, f(x) = 5 − ‖d‖².
    x = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    d = torch.tensor([0.01, -0.005, 0.02], dtype=torch.float64)
    f = quadratic(x + d, torch.full((3,), -2.0, dtype=torch.float64), 5.0)
    result = sharpness(f, x, eps=0.01, seed=0)
    f_x = 5.0 - float((d * d).sum())
    assert result.loss_at_x == pytest.approx(f_x)
    assert result.loss_max == pytest.approx(5.0, abs=1e-10)
    assert result.phi == pytest.approx(100 * (5.0 - f_x) / (1 + f_x), rel=1e-6)


def test_exact_minimizer_reaches_the_closed_form_maximum():
    # ∇f(x) = 0 exactly: started at y = 0 L-BFGS-B would stop at once and report φ = 0. From the random
    # start it must reach the box's vertex: max f = ½ Σ h_i ε² (x = 0, so every half-width is ε).
    x = torch.zeros(50, dtype=torch.float64)
    h = torch.linspace(0.1, 5.0, 50, dtype=torch.float64)
    f = quadratic(x, h, 0.0)
    assert torch.equal(f(x)[1], torch.zeros(50, dtype=torch.float64))
    result = sharpness(f, x, eps=1e-3, seed=0)
    expected = 0.5 * float(h.sum()) * 1e-6
    assert result.loss_max == pytest.approx(expected, rel=1e-9)
    assert result.phi == pytest.approx(100 * expected, rel=1e-9)
    assert result.iterations >= 1 and result.evaluations >= 2


def test_the_search_uses_its_whole_iteration_budget_on_flat_regions():
    """f = 10⁶ − ½ Σ hᵢ (wᵢ − dᵢ)², ill-conditioned, maximum inside the box: each step improves f by far
    less than scipy's default ftol (2.2e-9 relative), which would end the search after one iteration."""
    n = 20
    x = torch.zeros(n, dtype=torch.float64)
    d = torch.linspace(-0.5e-3, 0.5e-3, n, dtype=torch.float64)
    f = quadratic(x + d, -torch.logspace(-3, 1, n, dtype=torch.float64), 1e6)
    result = sharpness(f, x, eps=1e-3, max_iter=10, seed=0)
    assert result.iterations == 10, result.message
    assert result.evaluations >= 10


def test_subspace_with_identity_equals_full_space():
    x = torch.tensor([0.3, -0.7, 1.1, 2.0, -0.2], dtype=torch.float64)
    h = torch.tensor([2.0, -1.0, 0.5, 3.0, 1.0], dtype=torch.float64)  # indefinite: not just vertices
    f = quadratic(x + 0.001, h, 0.1)
    full = sharpness(f, x, eps=5e-3, seed=7)
    identity = sharpness(f, x, eps=5e-3, A=torch.eye(5, dtype=torch.float64), seed=7)
    assert identity.phi == pytest.approx(full.phi, rel=1e-12)
    assert (identity.iterations, identity.evaluations) == (full.iterations, full.evaluations)


def test_subspace_box_uses_the_pseudo_inverse():
    A = random_subspace(30, 4, seed=0)
    x = torch.randn(30, generator=torch.Generator().manual_seed(1))
    expected = 1e-3 * (np.abs(np.linalg.pinv(A.dense().double().numpy()) @ x.double().numpy()) + 1)
    np.testing.assert_allclose(box_half_widths(x, 1e-3, A), expected, rtol=1e-10)


def test_non_positive_epsilon_is_refused():
    f = quadratic(torch.zeros(2), torch.ones(2), 0.0)
    with pytest.raises(ValueError, match="epsilon"):
        sharpness(f, torch.zeros(2), eps=0.0)


def test_model_sharpness_uses_the_whole_training_set_in_eval_mode(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2})
    model.train()  # sharpness must switch to eval mode itself
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = sharpness_of_model(model, tiny_data.train, 1e-3, chunk=40, max_iter=5, seed=0)
    assert result.loss_at_x == pytest.approx(evaluate(model, tiny_data.train, chunk=1000).loss, rel=1e-6)
    assert result.loss_max > result.loss_at_x and result.phi > 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the model's weights must be left untouched"
    A = random_subspace(flatten(parameters_of(model)).numel(), 3, seed=0)
    sub = sharpness_of_model(model, tiny_data.train, 1e-3, A, chunk=1000, max_iter=5, seed=0)
    assert 0 < sub.phi


def test_a_shared_loss_at_x_changes_nothing_but_the_evaluation_count(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2})
    alone = sharpness_of_model(model, tiny_data.train, 1e-3, chunk=40, max_iter=5, seed=0)
    shared = sharpness_of_model(model, tiny_data.train, 1e-3, chunk=40, max_iter=5, seed=0, loss_at_x=model_loss(model, tiny_data.train, 40))
    assert shared == alone  # every field, bit for bit


def test_a_given_loss_at_x_is_not_evaluated_again():
    f = quadratic(torch.zeros(3), torch.ones(3), 0.5)
    calls = []
    result = sharpness(lambda w: (calls.append(1), f(w))[1], torch.zeros(3), 0.1, max_iter=3, seed=0, loss_at_x=0.5)
    assert len(calls) == result.evaluations  # only L-BFGS-B's own evaluations
    assert result.loss_at_x == 0.5 and result.phi > 0


def test_adaptive_box_with_eta_zero_on_a_quadratic_has_the_closed_form_maximum():
    # f(w) = ½ Σ cᵢ wᵢ²: on the box |δᵢ| ≤ ε|wᵢ| the maximum sits at the corner δ = ε·w, where
    # f = ½ Σ cᵢ (1 + ε)² wᵢ²; φ = 100 (f_max − f) / (1 + f)
    c = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64)
    x = torch.tensor([0.3, -0.2, 0.0], dtype=torch.float64)  # a zero coordinate gets a zero-width side

    def f(w):
        return float(0.5 * (c * w * w).sum()), c * w

    eps = 0.1
    f_x = 0.5 * float((c * x * x).sum())
    expected = 100 * (0.5 * float((c * x * x).sum()) * (1 + eps) ** 2 - f_x) / (1 + f_x)
    assert sharpness(f, x, eps, offset=0.0, max_iter=50).phi == pytest.approx(expected, rel=1e-6)




def test_a_diverged_solution_is_not_measured():
    """Non-finite weights (a run whose loss overflowed) give φ = nan instead of an error from the box."""
    x = torch.tensor([1.0, float("nan"), 2.0])
    result = sharpness(lambda w: (float((w**2).sum()), 2 * w), x, 1e-3)
    assert math.isnan(result.phi) and result.evaluations == 0 and "non-finite" in result.message
