"""lbgap.experiments.curvature: every measure of one solution, wired to the measures it names."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from lbgap.data import training_subset
from lbgap.experiments.curvature import measure_solution
from lbgap.measures.hessian import hessian_operator
from lbgap.measures.sharpness import sharpness_of_model


@pytest.fixture
def settings(curvature_settings):
    return curvature_settings(steps=40, top_k=2)


def test_the_measures_match_a_dense_hessian_and_the_paper_metric(trained_mlp, tiny_data, settings):
    model = trained_mlp()
    parts = []
    values, density = measure_solution(model, tiny_data.train, settings, on_part=parts.append)
    assert parts == ["spectrum", "sharpness", "flatness"]
    matvec, n = hessian_operator(model, tiny_data.train, settings.eval_chunk)
    dense = torch.stack([matvec(column) for column in torch.eye(n)]).double().numpy()
    eigenvalues = np.linalg.eigvalsh((dense + dense.T) / 2)
    assert values["lambda_1"] == pytest.approx(eigenvalues[-1], rel=1e-3)
    assert values["lambda_2"] == pytest.approx(eigenvalues[-2], rel=1e-2)
    assert np.isclose(density.weights.sum(), 1.0) and density.nodes.max() <= eigenvalues[-1] * (1 + 1e-3)
    for eps in settings.curvature.epsilons:  # the same φ the sharpness stages compute, at the curvature seed
        expected = sharpness_of_model(model, tiny_data.train, eps, None, chunk=settings.eval_chunk, maximizer=settings.maximizer, seed=settings.curvature.seed)
        assert values[f"phi_eps_{eps:.0e}"] == expected.phi
    assert {"trace", "adaptive_eta_0", "adaptive_eta_1e-02", "sigma_absolute", "sigma_magnitude", "noise_scale"} <= set(values)
    assert values["sigma_absolute"] > 0 and values["inverse_sigma_sq_absolute"] == pytest.approx(values["sigma_absolute"] ** -2)


def test_the_noise_scale_is_skipped_when_asked(trained_mlp, tiny_data, settings):
    curvature = settings.curvature
    skipped = dataclasses.replace(settings, curvature=dataclasses.replace(curvature, noise_scale=dataclasses.replace(curvature.noise_scale, batches=0)))
    values, _ = measure_solution(trained_mlp(), training_subset(tiny_data.train, 50, 0), skipped)
    assert math.isnan(values["noise_scale"]) and math.isnan(values["trace_sigma"])
