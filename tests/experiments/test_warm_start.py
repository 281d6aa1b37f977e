"""lbgap.experiments.warm_start: LB training from SB iterates."""

from __future__ import annotations


import pytest

from lbgap.train.loop import fixed_budget
from lbgap.train.loop import train
from lbgap.experiments.warm_start import warm_start


def test_warm_start_from_epoch_zero_is_a_cold_lb_run_and_later_points_start_from_sb_iterates(tiny_data, budget, small_mlp):
    calls = []

    def count(model) -> float:
        calls.append(model)
        return float(len(calls))

    points = warm_start(
        small_mlp(), tiny_data, small_batch=8, large_batch=48, sb_epochs=4, every=2, lb_epochs=3, config=budget,
        seed=0, measure=count,
    )
    assert [p.sb_epochs for p in points] == [0, 2, 4]
    assert [p.lb_sharpness for p in points] == [1.0, 2.0, 3.0]  # measured once per LB solution, in order

    cold = small_mlp()
    cold_end = train(cold, tiny_data, batch_size=48, config=fixed_budget(budget, 3), seed=0)[-1]
    assert points[0].lb_test_accuracy == cold_end.test_accuracy and points[0].lb_train_loss == cold_end.train_loss

    sb = small_mlp()
    sb_history = train(sb, tiny_data, batch_size=8, config=fixed_budget(budget, 2), seed=0)
    assert points[1].sb_test_accuracy == sb_history[-1].test_accuracy
    lb_end = train(sb, tiny_data, batch_size=48, config=fixed_budget(budget, 3), seed=0)[-1]
    assert points[1].lb_train_loss == lb_end.train_loss


def test_warm_start_refuses_a_zero_interval(tiny_data, budget, small_mlp):
    with pytest.raises(ValueError, match="every"):
        warm_start(small_mlp(), tiny_data, small_batch=8, large_batch=48, sb_epochs=2, every=0, lb_epochs=1,
                   config=budget, seed=0, measure=lambda model: 0.0)


