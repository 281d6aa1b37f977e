"""lbgap.measures.noise_scale: the two-batch estimator of B_simple against per-sample gradients and known moments."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from lbgap.models import build_model
from lbgap.measures.noise_scale import NoiseScale, noise_scale, noise_scale_exact
from lbgap.tensors import parameters_of


def test_two_batch_noise_scale_formula_recovers_known_moments():
    # E|G_B|² = |G|² + trΣ / B exactly: the estimator must return |G|² and trΣ
    g2, tr = 0.7, 35.0
    estimate = NoiseScale.from_norms(8, g2 + tr / 8, 512, g2 + tr / 512)
    assert estimate.gradient_sq == pytest.approx(g2) and estimate.trace_sigma == pytest.approx(tr)
    assert estimate.b_simple == pytest.approx(tr / g2)
    # noisy norms can make either estimate negative; B_simple is then undefined, not a negative size
    assert math.isnan(NoiseScale.from_norms(8, 1.0, 512, 1.2).b_simple)  # tr Σ < 0
    assert math.isnan(NoiseScale.from_norms(8, 10.0, 512, -0.1).b_simple)  # |G|² < 0


def test_noise_scale_estimator_matches_per_sample_gradients(tiny_data, blobs):
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


