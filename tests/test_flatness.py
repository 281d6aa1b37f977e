"""Adaptive sharpness, the Dinh rescaling, PAC-Bayes σ, the noise scale and 2-D surfaces against
independent ground truth on tiny networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from lbgap.train.evaluation import evaluate
from lbgap.train.batchnorm import recompute_statistics
from lbgap.measures.flatness import dinh_rescale, noise_std, noisy_accuracy, pac_bayes_sigma, rescalable_pairs
from lbgap.measures.hessian import hessian_operator, top_eigenvalues
from lbgap.models import build_model
from lbgap.measures.noise_scale import NoiseScale, noise_scale, noise_scale_exact
from lbgap.measures.sharpness import sharpness, sharpness_of_model
from lbgap.measures.surface import filter_normalized_direction, surface_around, surface_through
from lbgap.tensors import flatten, parameters_of
from lbgap.train.loop import TrainConfig, train
from tests.conftest import blobs


def _trained(tiny_data, seed: int = 0, depth: int = 2):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": 8, "depth": depth})
    train(model, tiny_data, batch_size=16, config=TrainConfig(max_epochs=5, lr=1e-2), seed=seed)
    return model.eval()


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


def test_dinh_rescaling_keeps_predictions_and_changes_what_it_should(tiny_data):
    model = _trained(tiny_data)
    assert len(rescalable_pairs(model)) == 2  # two BN → ReLU → Linear blocks
    before = model(tiny_data.train.x).detach()
    phi_before = sharpness_of_model(model, tiny_data.train, 1e-3, max_iter=20)
    adaptive_before = sharpness_of_model(model, tiny_data.train, 1e-3, max_iter=20, offset=0.0)
    matvec, n = hessian_operator(model, tiny_data.train, chunk=1000)
    top_before = top_eigenvalues(matvec, n, 1, iterations=n, seed=0, like=flatten(parameters_of(model)))[0]

    dinh_rescale(model, 10.0, block=0)
    torch.testing.assert_close(model(tiny_data.train.x).detach(), before, rtol=1e-4, atol=1e-5)
    assert evaluate(model, tiny_data.train, 1000).loss == pytest.approx(phi_before.loss_at_x, rel=1e-5)
    matvec, n = hessian_operator(model, tiny_data.train, chunk=1000)
    top_after = top_eigenvalues(matvec, n, 1, iterations=n, seed=0, like=flatten(parameters_of(model)))[0]
    assert top_after > 5 * top_before  # weights shrunk by 10: curvature along them grows ~100×
    adaptive_after = sharpness_of_model(model, tiny_data.train, 1e-3, max_iter=20, offset=0.0)
    assert adaptive_after.phi == pytest.approx(adaptive_before.phi, rel=0.05)  # invariant up to the search
    with pytest.raises(ValueError, match="block 5 does not exist"):
        dinh_rescale(model, 2.0, block=5)
    with pytest.raises(ValueError, match="> 0"):
        dinh_rescale(model, -1.0)


@pytest.mark.parametrize("magnitude_epsilon", [None, 1e-3])
def test_pac_bayes_sigma_agrees_with_a_grid_over_the_same_noise(tiny_data, magnitude_epsilon):
    model = _trained(tiny_data)
    result = pac_bayes_sigma(
        model, tiny_data.train, max_drop=0.1, magnitude_epsilon=magnitude_epsilon, draws=4, steps=25, seed=0, chunk=1000,
    )
    assert result.inverse_square == pytest.approx(1 / result.sigma**2)
    generator = torch.Generator().manual_seed(0)
    weights = parameters_of(model)
    noise = [{k: torch.randn(w.shape, generator=generator) for k, w in weights.items()} for _ in range(4)]
    base = result.accuracy_at_zero
    assert base == pytest.approx(evaluate(model, tiny_data.train, 1000).accuracy)  # the noise-free network

    def std(sigma):  # written out: σ, or Jiang et al.'s √(σ²w² + ε²)
        if magnitude_epsilon is None:
            return {k: torch.full_like(w, sigma) for k, w in weights.items()}
        return {k: ((sigma * w) ** 2 + magnitude_epsilon**2).sqrt() for k, w in weights.items()}

    grid = np.geomspace(1e-5, 10, 400)
    passing = [s for s in grid if base - noisy_accuracy(model, tiny_data.train, std(s), noise, 1000) <= 0.1]
    first_fail = next(s for s in grid if s not in passing)
    # the bisection's σ passes and lies at the first failing grid σ (the accuracy is a step function)
    assert base - result.accuracy_at_sigma <= 0.1
    assert first_fail / 1.05 <= result.sigma <= first_fail


def test_magnitude_aware_noise_follows_jiang_et_al():
    """Variance σ²w² + ε²: a zero weight still gets noise of std ε; a large one about σ|w|."""
    weights = {"w": torch.tensor([0.0, 3.0, -4.0])}
    std = noise_std(weights, 0.5, 1e-3)["w"]
    torch.testing.assert_close(std, torch.tensor([1e-3, math.sqrt(2.25 + 1e-6), math.sqrt(4 + 1e-6)]))
    torch.testing.assert_close(noise_std(weights, 0.5, None)["w"], torch.full((3,), 0.5))


def test_two_batch_noise_scale_formula_recovers_known_moments():
    # E|G_B|² = |G|² + trΣ / B exactly: the estimator must return |G|² and trΣ
    g2, tr = 0.7, 35.0
    estimate = NoiseScale.from_norms(8, g2 + tr / 8, 512, g2 + tr / 512)
    assert estimate.gradient_sq == pytest.approx(g2) and estimate.trace_sigma == pytest.approx(tr)
    assert estimate.b_simple == pytest.approx(tr / g2)
    # noisy norms can make either estimate negative; B_simple is then undefined, not a negative size
    assert math.isnan(NoiseScale.from_norms(8, 1.0, 512, 1.2).b_simple)  # tr Σ < 0
    assert math.isnan(NoiseScale.from_norms(8, 10.0, 512, -0.1).b_simple)  # |G|² < 0


def test_noise_scale_estimator_matches_per_sample_gradients(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 1})
    data = blobs(400, seed=3)
    exact = noise_scale_exact(model, data, chunk=64)
    # exact by brute force: per-sample gradients one at a time
    weights = {k: w.detach().requires_grad_(True) for k, w in parameters_of(model).items()}
    rows = []
    for i in range(len(data)):
        loss = F.cross_entropy(functional_call(model, weights, (data.x[i : i + 1],)), data.y[i : i + 1])
        rows.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(weights.values()))]).double())
    g = torch.stack(rows)
    assert exact.gradient_sq == pytest.approx(float((g.mean(0) ** 2).sum()), rel=1e-6)
    assert exact.trace_sigma == pytest.approx(float(g.var(0, unbiased=False).sum()), rel=1e-6)
    estimate = noise_scale(model, data, small=4, big=128, batches=400, seed=0)
    assert estimate.b_simple == pytest.approx(exact.b_simple, rel=0.25)  # sampling error of 400 batches


def test_filter_normalized_directions_match_filter_norms_and_skip_biases(tiny_data):
    model = _trained(tiny_data, depth=1)
    weights = parameters_of(model)
    direction = filter_normalized_direction(weights, torch.Generator().manual_seed(0))
    for name, w in weights.items():
        if w.dim() == 1:
            assert torch.count_nonzero(direction[name]) == 0, name
        else:
            torch.testing.assert_close(direction[name].norm(dim=1), w.norm(dim=1))


def _with_recomputed_statistics(model, split):
    recompute_statistics(model, split, 1000)
    return evaluate(model, split, 1000)


def test_surfaces_hit_the_solutions_at_their_coordinates(tiny_data):
    model = _trained(tiny_data, depth=1)
    at_w = evaluate(model, tiny_data.train, 1000)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    old, _ = surface_around(model, tiny_data.train, [-0.5, 0.0, 0.5], seed=0, chunk=1000, bn_statistics="interpolate")
    assert old[1, 1] == pytest.approx(at_w.loss)  # the solution's own statistics
    loss, accuracy = surface_around(model, tiny_data.train, [-0.5, 0.0, 0.5], seed=0, chunk=1000)
    for k, v in model.state_dict().items():  # restored, buffers included
        torch.testing.assert_close(v, state[k])
    recomputed = _with_recomputed_statistics(model, tiny_data.train)
    assert loss[1, 1] == pytest.approx(recomputed.loss) and accuracy[1, 1] == pytest.approx(recomputed.accuracy)
    assert loss[0, 0] != pytest.approx(old[0, 0], rel=1e-6)  # away from w the statistics are recomputed

    states = []
    for seed in (0, 1, 2):
        m = _trained(tiny_data, seed=seed, depth=1)
        states.append({k: v.clone() for k, v in m.state_dict().items()})
    expected = []
    for state in states:
        model.load_state_dict(state)
        expected.append(_with_recomputed_statistics(model, tiny_data.train).loss)
    loss, _ = surface_through(model, *states, tiny_data.train, [0.0, 1.0], chunk=1000)
    assert [loss[0, 0], loss[1, 0], loss[0, 1]] == pytest.approx(expected, rel=1e-5)
