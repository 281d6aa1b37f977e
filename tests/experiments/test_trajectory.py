"""lbgap.experiments.trajectory: sharpness of one run's iterates along training."""

from __future__ import annotations


import pytest
import torch

from lbgap.train.batchnorm import recompute_statistics
from lbgap.train.evaluation import evaluate
from lbgap.measures.sharpness import full_space_probe
from lbgap.train.loop import fixed_budget
from lbgap.train.loop import train
from lbgap.experiments.trajectory import sharpness_along_training


def test_sharpness_along_training_measures_the_iterates_at_the_chosen_epochs(tiny_data, budget, small_mlp):
    probe = full_space_probe(tiny_data.train, 1e-3, chunk=1000, max_iter=3, seed=0)
    points = sharpness_along_training(
        small_mlp(), tiny_data, batch_size=16, at_epochs=[3, 0, 1], config=budget, seed=2, measure=probe,
        bn_statistics="interpolate",
    )
    assert [p.epoch for p in points] == [0, 1, 3]
    assert points[0].sharpness == pytest.approx(probe(small_mlp()))  # epoch 0 is x0 itself

    reference = small_mlp()
    history = train(reference, tiny_data, batch_size=16, config=fixed_budget(budget, 3), seed=2)
    assert points[-1].train_loss == history[-1].train_loss
    assert points[-1].sharpness == pytest.approx(probe(reference))
    assert all(p.sharpness >= 0 for p in points)


def test_sharpness_along_training_recomputes_statistics_without_changing_the_run(tiny_data, budget, small_mlp):
    probe = full_space_probe(tiny_data.train, 1e-3, chunk=1000, max_iter=3, seed=0)
    model = small_mlp()
    points = sharpness_along_training(
        model, tiny_data, batch_size=16, at_epochs=[0, 3], config=budget, seed=2, measure=probe,
    )
    reference = small_mlp()
    train(reference, tiny_data, batch_size=16, config=fixed_budget(budget, 3), seed=2)
    for k, v in reference.state_dict().items():  # the run itself, buffers included, is untouched
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0)
    recompute_statistics(reference, tiny_data.train, budget.eval_chunk)
    assert points[-1].train_loss == pytest.approx(evaluate(reference, tiny_data.train, 1000).loss)
    assert points[-1].sharpness == pytest.approx(probe(reference))
    x0 = small_mlp()
    recompute_statistics(x0, tiny_data.train, budget.eval_chunk)
    assert points[0].train_loss == pytest.approx(evaluate(x0, tiny_data.train, 1000).loss)