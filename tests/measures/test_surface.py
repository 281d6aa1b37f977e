"""lbgap.measures.surface: filter-normalized directions and 2-D surfaces through the solutions."""

from __future__ import annotations


import pytest
import torch

from lbgap.train.evaluation import evaluate
from lbgap.measures.surface import filter_normalized_direction, surface_around, surface_through
from lbgap.tensors import parameters_of


def test_filter_normalized_directions_match_filter_norms_and_skip_biases(tiny_data, trained_mlp):
    model = trained_mlp(depth=1)
    weights = parameters_of(model)
    direction = filter_normalized_direction(weights, torch.Generator().manual_seed(0))
    for name, w in weights.items():
        if w.dim() == 1:
            assert torch.count_nonzero(direction[name]) == 0, name
        else:
            torch.testing.assert_close(direction[name].norm(dim=1), w.norm(dim=1))


def test_surfaces_hit_the_solutions_at_their_coordinates(tiny_data, trained_mlp, evaluate_recomputed):
    model = trained_mlp(depth=1)
    at_w = evaluate(model, tiny_data.train, 1000)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    old, _ = surface_around(model, tiny_data.train, [-0.5, 0.0, 0.5], seed=0, chunk=1000, bn_statistics="interpolate")
    assert old[1, 1] == pytest.approx(at_w.loss)  # the solution's own statistics
    loss, accuracy = surface_around(model, tiny_data.train, [-0.5, 0.0, 0.5], seed=0, chunk=1000)
    for k, v in model.state_dict().items():  # restored, buffers included
        torch.testing.assert_close(v, state[k])
    recomputed = evaluate_recomputed(model, tiny_data.train)
    assert loss[1, 1] == pytest.approx(recomputed.loss) and accuracy[1, 1] == pytest.approx(recomputed.accuracy)
    assert loss[0, 0] != pytest.approx(old[0, 0], rel=1e-6)  # away from w the statistics are recomputed

    states = []
    for seed in (0, 1, 2):
        m = trained_mlp(seed=seed, depth=1)
        states.append({k: v.clone() for k, v in m.state_dict().items()})
    expected = []
    for state in states:
        model.load_state_dict(state)
        expected.append(evaluate_recomputed(model, tiny_data.train).loss)
    loss, _ = surface_through(model, *states, tiny_data.train, [0.0, 1.0], chunk=1000)
    assert [loss[0, 0], loss[1, 0], loss[0, 1]] == pytest.approx(expected, rel=1e-5)
