"""lbgap.measures.flatness: Dinh et al.'s rescaling and the PAC-Bayes σ, against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lbgap.measures.maximizer import Maximizer
from lbgap.train.evaluation import evaluate
from lbgap.measures.flatness import dinh_rescale, noise_std, noisy_accuracy, pac_bayes_sigma, rescalable_pairs
from lbgap.measures.hessian import hessian_operator, top_eigenvalues
from lbgap.measures.sharpness import sharpness_of_model
from lbgap.tensors import flatten, parameters_of


def test_dinh_rescaling_keeps_predictions_and_changes_what_it_should(tiny_data, trained_mlp):
    model = trained_mlp()
    assert len(rescalable_pairs(model)) == 2  # two BN → ReLU → Linear blocks
    before = model(tiny_data.train.x).detach()
    phi_before = sharpness_of_model(model, tiny_data.train, 1e-3, maximizer=Maximizer(iterations=20))
    adaptive_before = sharpness_of_model(model, tiny_data.train, 1e-3, maximizer=Maximizer(iterations=20), offset=0.0)
    matvec, n = hessian_operator(model, tiny_data.train, chunk=1000)
    top_before = top_eigenvalues(matvec, n, 1, iterations=n, seed=0, like=flatten(parameters_of(model)))[0]

    dinh_rescale(model, 10.0, block=0)
    torch.testing.assert_close(model(tiny_data.train.x).detach(), before, rtol=1e-4, atol=1e-5)
    assert evaluate(model, tiny_data.train, 1000).loss == pytest.approx(phi_before.loss_at_x, rel=1e-5)
    matvec, n = hessian_operator(model, tiny_data.train, chunk=1000)
    top_after = top_eigenvalues(matvec, n, 1, iterations=n, seed=0, like=flatten(parameters_of(model)))[0]
    assert top_after > 5 * top_before  # weights shrunk by 10: curvature along them grows ~100×
    adaptive_after = sharpness_of_model(model, tiny_data.train, 1e-3, maximizer=Maximizer(iterations=20), offset=0.0)
    assert adaptive_after.phi == pytest.approx(adaptive_before.phi, rel=0.05)  # invariant up to the search
    with pytest.raises(ValueError, match="block 5 does not exist"):
        dinh_rescale(model, 2.0, block=5)
    with pytest.raises(ValueError, match="> 0"):
        dinh_rescale(model, -1.0)


@pytest.mark.parametrize("magnitude_epsilon", [None, 1e-3])
def test_pac_bayes_sigma_agrees_with_a_grid_over_the_same_noise(tiny_data, magnitude_epsilon, trained_mlp):
    model = trained_mlp()
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


