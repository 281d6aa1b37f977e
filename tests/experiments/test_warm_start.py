"""lbgap.experiments.warm_start: LB training from SB iterates."""

from __future__ import annotations

from lbgap.experiments.warm_start import warm_start
from lbgap.measures.sharpness import Sharpness
from lbgap.train.loop import fixed_budget, train
from lbgap.train.seeds import train_seeds


def test_warm_start_from_epoch_zero_is_a_cold_lb_run_and_later_points_start_from_sb_iterates(tiny_data, budget, small_mlp):
    ((_, sb_run, _, _),) = list(train_seeds(
        lambda seed: small_mlp(), tiny_data, batch_size=8, seeds=1, config=fixed_budget(budget, 4), amp=False,
        keep_epochs={2, 4},
    ))
    calls = []

    def count(model) -> Sharpness:
        calls.append(model)
        return Sharpness(float(len(calls)), 0.0, len(calls) / 100, 1, 2, "stub", levelled_off=True)

    points = warm_start(
        small_mlp(), tiny_data, [(e, sb_run.iterate(e)) for e in (0, 2, 4)], large_batch=48, lb_epochs=3, config=budget,
        seed=0, measure=count,
    )
    assert [p.sb_epochs for p in points] == [0, 2, 4]
    assert [p.lb_sharpness for p in points] == [1.0, 2.0, 3.0]  # measured once per LB solution, in order

    cold = small_mlp()
    cold_history = train(cold, tiny_data, batch_size=48, config=fixed_budget(budget, 3), seed=0)
    assert points[0].lb_test_accuracy == cold_history[-1].test_accuracy and points[0].lb_train_loss == cold_history[-1].train_loss
    assert points[0].sb_train_loss == cold_history[0].train_loss  # x0's own record

    sb = small_mlp()  # the SB part trained again, independently of the kept iterate
    sb_history = train(sb, tiny_data, batch_size=8, config=fixed_budget(budget, 2), seed=0)
    assert points[1].sb_test_accuracy == sb_history[-1].test_accuracy and points[1].sb_train_loss == sb_history[-1].train_loss
    lb_end = train(sb, tiny_data, batch_size=48, config=fixed_budget(budget, 3), seed=0)[-1]
    assert points[1].lb_train_loss == lb_end.train_loss and points[1].lb_test_accuracy == lb_end.test_accuracy
