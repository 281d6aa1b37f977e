"""lbgap.experiments.trajectory: sharpness of one run's kept iterates."""

from __future__ import annotations

import pytest

from lbgap.measures.maximizer import Maximizer
from lbgap.experiments.trajectory import sharpness_along_training
from lbgap.measures.sharpness import full_space_probe
from lbgap.train.batchnorm import recompute_statistics
from lbgap.train.evaluation import evaluate
from lbgap.train.loop import fixed_budget, train
from lbgap.train.seeds import train_seeds


@pytest.fixture
def kept_run(tiny_data, train_config, small_mlp):
    """Seed 0's run of train_seeds under a stopping rule that fires (after 4 of at most 12 epochs), with
    the iterates after epochs 1 and 3 kept (and 8, which it never reaches)."""
    stopping = train_config(max_epochs=12, patience=1, min_delta=0.1, lr=1e-2)
    ((_, kept, final, _),) = list(train_seeds(
        lambda seed: small_mlp(seed, width=8, depth=2), tiny_data, batch_size=16, seeds=1, config=stopping, amp=False,
        keep_epochs={1, 3, 8},
    ))
    assert kept.stopped_at == final["epoch"] == 6  # the rule fired well before max_epochs
    return kept


def test_the_kept_iterates_are_those_of_a_fixed_budget_run(tiny_data, budget, small_mlp, kept_run, states_equal):
    for epochs in (1, 3):  # trained again from scratch, independently, for exactly that many epochs
        reference = small_mlp(0, width=8, depth=2)
        train(reference, tiny_data, batch_size=16, config=fixed_budget(budget, epochs), seed=0)
        assert states_equal(kept_run.iterate(epochs), reference.state_dict())
    assert states_equal(kept_run.iterate(0), small_mlp(0, width=8, depth=2).state_dict())
    assert sorted(kept_run.states) == [0, 1, 3]  # epoch 8 was never reached
    with pytest.raises(KeyError, match="epoch 2 was not kept"):
        kept_run.iterate(2)


def test_sharpness_along_training_measures_each_iterate_with_its_own_statistics(tiny_data, small_mlp, kept_run):
    probe = full_space_probe(tiny_data.train, 1e-3, chunk=1000, maximizer=Maximizer(iterations=3), seed=0)
    epochs = [0, 1, 3]
    model = small_mlp(0, width=8, depth=2)
    points = sharpness_along_training(model, tiny_data, [(e, kept_run.iterate(e)) for e in epochs], chunk=1000, measure=probe)
    assert [p.epoch for p in points] == epochs
    for point, epoch in zip(points, epochs):
        reference = small_mlp(0, width=8, depth=2)
        reference.load_state_dict(kept_run.iterate(epoch))
        recompute_statistics(reference, tiny_data.train, 1000)
        assert point.train_loss == pytest.approx(evaluate(reference, tiny_data.train, 1000).loss)
        assert point.test_accuracy == pytest.approx(evaluate(reference, tiny_data.test, 1000).accuracy)
        assert point.sharpness == pytest.approx(probe(reference).phi)
        assert point.sharpness >= 0 and point.noise_scale != point.noise_scale  # nan: not asked for
    assert points[0].train_loss != points[-1].train_loss


def test_interpolate_mode_keeps_the_iterates_own_statistics(tiny_data, small_mlp, kept_run):
    probe = full_space_probe(tiny_data.train, 1e-3, chunk=1000, maximizer=Maximizer(iterations=3), seed=0)
    (point,) = sharpness_along_training(
        small_mlp(0, width=8, depth=2), tiny_data, [(3, kept_run.iterate(3))], chunk=1000, measure=probe, bn_statistics="interpolate",
        noise=lambda model: 7.0,
    )
    reference = small_mlp(0, width=8, depth=2)
    reference.load_state_dict(kept_run.iterate(3))
    assert point.train_loss == evaluate(reference, tiny_data.train, 1000).loss
    assert point.noise_scale == 7.0
    with pytest.raises(ValueError, match="bn_statistics"):
        sharpness_along_training(small_mlp(0, width=8, depth=2), tiny_data, [(0, kept_run.iterate(0))], chunk=1000, measure=probe, bn_statistics="nope")
    with pytest.raises(ValueError, match="no iterates"):
        sharpness_along_training(small_mlp(0, width=8, depth=2), tiny_data, [], chunk=1000, measure=probe)
