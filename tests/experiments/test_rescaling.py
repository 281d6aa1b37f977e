"""lbgap.experiments.rescaling: Dinh et al.'s rescaling keeps the function and moves the non-invariant measures."""

from __future__ import annotations


import pytest
import torch

from lbgap.experiments.rescaling import rescaling_effect


def test_predictions_stay_and_the_sharpest_direction_moves(trained_mlp, tiny_data, curvature_settings):
    settings = curvature_settings(steps=30)
    model = trained_mlp()
    before_logits = model(tiny_data.train.x).detach()
    effect = rescaling_effect(model, tiny_data.train, settings, factor=10.0, block=0)
    assert effect["max_relative_logit_change"] < 1e-5
    assert effect["loss_after"] == pytest.approx(effect["loss_before"], rel=1e-5)
    torch.testing.assert_close(model(tiny_data.train.x).detach(), before_logits, rtol=1e-4, atol=1e-5)  # left rescaled, same function
    assert set(effect["before"]) == {"lambda_1", "phi", "adaptive_eta_0", "adaptive_eta_1e-02"}
    for key, ratio in effect["ratio"].items():
        assert ratio == pytest.approx(effect["after"][key] / effect["before"][key])
    assert not 0.5 < effect["ratio"]["lambda_1"] < 2  # a factor 10 moves the top eigenvalue a lot
