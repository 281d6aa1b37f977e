"""The parametric plot: exact at both ends, BN statistics interpolated, counters left alone."""

from __future__ import annotations

import math

import pytest
import torch

from lbgap.evaluation import evaluate
from lbgap.landscape import blend_into, combine_into, curvilinear_path, linear_path
from lbgap.models import build_model
from lbgap.training import TrainConfig, train

OPTIONS = {"width": 8, "depth": 2}


@pytest.fixture
def two_solutions(tiny_data):
    states = []
    for batch_size in (8, 48):
        model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS)
        train(model, tiny_data, batch_size=batch_size, config=TrainConfig(max_epochs=3), seed=0)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    return states


def test_ends_reproduce_the_sb_and_lb_losses_exactly(tiny_data, two_solutions):
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=9, options=OPTIONS)
    points = linear_path(model, small, large, [0.0, 0.5, 1.0], tiny_data)
    for point, state in ((points[0], small), (points[2], large)):
        model.load_state_dict(state)
        train_eval, test_eval = evaluate(model, tiny_data.train, 1000), evaluate(model, tiny_data.test, 1000)
        assert point.train_loss == train_eval.loss and point.test_loss == test_eval.loss
        assert point.train_accuracy == train_eval.accuracy and point.test_accuracy == test_eval.accuracy
    assert points[1].train_loss != points[0].train_loss


def test_blend_interpolates_running_statistics_but_not_counters(two_solutions):
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS)
    model.load_state_dict(small)
    blend_into(model, small, large, 0.25)
    state = model.state_dict()
    name = "net.2.running_mean"
    torch.testing.assert_close(state[name], 0.75 * small[name] + 0.25 * large[name])
    torch.testing.assert_close(state["net.1.weight"], 0.75 * small["net.1.weight"] + 0.25 * large["net.1.weight"])
    assert state["net.2.num_batches_tracked"] == small["net.2.num_batches_tracked"]
    assert small["net.2.num_batches_tracked"] != large["net.2.num_batches_tracked"]


def test_extrapolated_variances_stay_non_negative(two_solutions, tiny_data):
    small, large = two_solutions
    large = dict(large)
    large["net.2.running_var"] = small["net.2.running_var"] * 3  # α = −1 gives −1 × small
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS)
    points = linear_path(model, small, large, [-1.0], tiny_data)
    assert model.state_dict()["net.2.running_var"].min() >= 0
    assert points[0].train_loss == points[0].train_loss  # not NaN


def test_curvilinear_path_passes_through_both_solutions_and_leaves_the_chord(tiny_data, two_solutions):
    """α = 0 is x_SB, α = 1 is x_LB up to cos(π/2) ≈ 6e-17; at α = 0.5 the point is (x_SB + x_LB)/√2,
    not the chord's midpoint."""
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=9, options=OPTIONS)
    points = curvilinear_path(model, small, large, [0.0, 1.0], tiny_data, chunk=100)
    for point, state in zip(points, (small, large)):
        model.load_state_dict(state)
        assert point.train_loss == pytest.approx(evaluate(model, tiny_data.train, 100).loss, rel=1e-5)
    combine_into(model, small, large, math.cos(math.pi / 4), math.sin(math.pi / 4))
    name = "net.1.weight"
    torch.testing.assert_close(model.state_dict()[name], (small[name] + large[name]) / math.sqrt(2))
