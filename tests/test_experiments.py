"""The batch-size sweep, warm start and sharpness along training on tiny data and a tiny network."""

from __future__ import annotations

import math

import pytest
import torch

from lbgap.train.batchnorm import recompute_statistics
from lbgap.train.evaluation import evaluate
from lbgap.models import build_model
from lbgap.measures.sharpness import full_space_probe
from lbgap.experiments.sweep import fixed_budget, sweep_batch, threshold_batch
from lbgap.train.loop import TrainConfig, train
from lbgap.experiments.trajectory import sharpness_along_training
from lbgap.experiments.warm_start import warm_start

CONFIG = TrainConfig(max_epochs=50, patience=1, min_delta=0.0, lr=1e-2)  # patience 1: would stop at once


def _model(seed: int = 0):
    return build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": 8, "depth": 1})


def _states_equal(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("batches", "accuracies", "drop", "expected"),
    [
        ([64, 256, 1024], [90.0, 89.5, 89.2], 1.0, None),  # within 1 point of the best smaller size
        ([64, 256, 1024, 4096], [90.0, 89.5, 85.0, 80.0], 1.0, 1024),
        ([256, 64, 4096, 1024], [89.5, 90.0, 80.0, 85.0], 1.0, 1024),  # order of the input does not matter
        ([64, 256, 1024], [88.0, 91.0, 89.5], 1.0, 1024),  # the reference is the best smaller size (256)
        ([64, 256, 1024], [88.0, 91.0, 89.5], 2.0, None),
    ],
)
def test_threshold_rule(batches, accuracies, drop, expected):
    assert threshold_batch(batches, accuracies, drop).batch_size == expected


def test_threshold_crossing_interpolates_in_log_batch_size():
    # best 90 at 256, level 89; accuracy goes 90 → 86 from 256 to 1024, so it passes 89 a quarter of
    # the way in log2: 2 ** (8 + 0.25 · 2) = 2 ** 8.5
    result = threshold_batch([64, 256, 1024], [89.0, 90.0, 86.0], 1.0)
    assert (result.batch_size, result.reference_batch, result.reference_accuracy) == (1024, 256, 90.0)
    assert math.isclose(result.crossing, 2**8.5)


def test_fixed_budget_trains_exactly_that_many_epochs(tiny_data):
    history = train(_model(), tiny_data, batch_size=16, config=fixed_budget(CONFIG, 4), seed=0)
    assert [r.epoch for r in history] == [0, 1, 2, 3, 4]  # patience 1 with a flat loss would stop at 2


def test_evaluate_every_keeps_the_trajectory_and_records_less(tiny_data):
    every, sparse = _model(), _model()
    full = train(every, tiny_data, batch_size=16, config=fixed_budget(CONFIG, 5), seed=3)
    few = train(sparse, tiny_data, batch_size=16, config=fixed_budget(CONFIG, 5), seed=3, evaluate_every=2)
    assert [r.epoch for r in few] == [0, 2, 4, 5]  # every 2 epochs and the last
    assert few[-1] == full[-1]
    assert _states_equal(every.state_dict(), sparse.state_dict())


def test_sweep_batch_reports_steps_accuracy_and_the_probe(tiny_data):
    runs = sweep_batch(
        _model, tiny_data, 32, epochs=3, seeds=2, config=CONFIG, measure=lambda model: 7.0,
    )
    assert [(r.seed, r.steps, r.sharpness) for r in runs] == [(0, 9, 7.0), (1, 9, 7.0)]  # 3 · ⌊96/32⌋
    reference = _model(1)
    end = train(reference, tiny_data, batch_size=32, config=fixed_budget(CONFIG, 3), seed=1)[-1]
    assert runs[1].test_accuracy == end.test_accuracy and runs[1].train_loss == end.train_loss


def test_warm_start_from_epoch_zero_is_a_cold_lb_run_and_later_points_start_from_sb_iterates(tiny_data):
    calls = []

    def count(model) -> float:
        calls.append(model)
        return float(len(calls))

    points = warm_start(
        _model(), tiny_data, small_batch=8, large_batch=48, sb_epochs=4, every=2, lb_epochs=3, config=CONFIG,
        seed=0, measure=count,
    )
    assert [p.sb_epochs for p in points] == [0, 2, 4]
    assert [p.lb_sharpness for p in points] == [1.0, 2.0, 3.0]  # measured once per LB solution, in order

    cold = _model()
    cold_end = train(cold, tiny_data, batch_size=48, config=fixed_budget(CONFIG, 3), seed=0)[-1]
    assert points[0].lb_test_accuracy == cold_end.test_accuracy and points[0].lb_train_loss == cold_end.train_loss

    sb = _model()
    sb_history = train(sb, tiny_data, batch_size=8, config=fixed_budget(CONFIG, 2), seed=0)
    assert points[1].sb_test_accuracy == sb_history[-1].test_accuracy
    lb_end = train(sb, tiny_data, batch_size=48, config=fixed_budget(CONFIG, 3), seed=0)[-1]
    assert points[1].lb_train_loss == lb_end.train_loss


def test_warm_start_refuses_a_zero_interval(tiny_data):
    with pytest.raises(ValueError, match="every"):
        warm_start(_model(), tiny_data, small_batch=8, large_batch=48, sb_epochs=2, every=0, lb_epochs=1,
                   config=CONFIG, seed=0, measure=lambda model: 0.0)


def test_sharpness_along_training_measures_the_iterates_at_the_chosen_epochs(tiny_data):
    probe = full_space_probe(tiny_data.train, 1e-3, chunk=1000, max_iter=3, seed=0)
    points = sharpness_along_training(
        _model(), tiny_data, batch_size=16, at_epochs=[3, 0, 1], config=CONFIG, seed=2, measure=probe,
        bn_statistics="interpolate",
    )
    assert [p.epoch for p in points] == [0, 1, 3]
    assert points[0].sharpness == pytest.approx(probe(_model()))  # epoch 0 is x0 itself

    reference = _model()
    history = train(reference, tiny_data, batch_size=16, config=fixed_budget(CONFIG, 3), seed=2)
    assert points[-1].train_loss == history[-1].train_loss
    assert points[-1].sharpness == pytest.approx(probe(reference))
    assert all(p.sharpness >= 0 for p in points)


def test_sharpness_along_training_recomputes_statistics_without_changing_the_run(tiny_data):
    probe = full_space_probe(tiny_data.train, 1e-3, chunk=1000, max_iter=3, seed=0)
    model = _model()
    points = sharpness_along_training(
        model, tiny_data, batch_size=16, at_epochs=[0, 3], config=CONFIG, seed=2, measure=probe,
    )
    reference = _model()
    train(reference, tiny_data, batch_size=16, config=fixed_budget(CONFIG, 3), seed=2)
    for k, v in reference.state_dict().items():  # the run itself, buffers included, is untouched
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0)
    recompute_statistics(reference, tiny_data.train, CONFIG.eval_chunk)
    assert points[-1].train_loss == pytest.approx(evaluate(reference, tiny_data.train, 1000).loss)
    assert points[-1].sharpness == pytest.approx(probe(reference))
    x0 = _model()
    recompute_statistics(x0, tiny_data.train, CONFIG.eval_chunk)
    assert points[0].train_loss == pytest.approx(evaluate(x0, tiny_data.train, 1000).loss)