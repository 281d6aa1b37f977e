"""lbgap.train.loop: the training loop, its stopping rule, fixed budgets and seeding."""

from __future__ import annotations

import math

import pytest
import torch

from lbgap.models import build_model
from lbgap.train.loop import first_at_target, fixed_budget, should_stop, train
from lbgap.train.recipe import adam, plain_step


@pytest.mark.parametrize(
    ("losses", "patience", "min_delta", "stop"),
    [
        ([1.0, 0.5], 2, 0.0, False),  # not enough history yet
        ([1.0, 0.9, 0.8, 0.7], 2, 0.01, False),  # still improving by 0.1 per epoch
        ([1.0, 0.5, 0.5, 0.5], 2, 0.0, True),  # flat for `patience` epochs
        ([1.0, 0.5, 0.6, 0.7], 2, 0.0, True),  # worse for `patience` epochs
        ([1.0, 0.5, 0.4995, 0.4992], 2, 1e-3, True),  # improving, but by less than min_delta
        ([1.0, 0.5, 0.4995, 0.4985], 2, 1e-3, False),  # best of the window beats best before by > min_delta
        ([1.0, 0.5, 0.7, 0.6], 2, 0.0, True),  # the best (0.5) lies before the window of 2
        ([1.0, 0.5, 0.7, 0.6], 3, 0.0, False),  # a window of 3 includes it: 0.5 < 1.0
    ],
)
def test_should_stop(losses, patience, min_delta, stop):
    assert should_stop(losses, patience, min_delta) is stop


def test_training_stops_when_the_loss_stops_improving(tiny_data, train_config):
    # lr = 0 and no BatchNorm (whose running statistics would still move): the loss never changes, so
    # training must stop after patience + 1 epochs, not at the cap.
    linear = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 1, "depth": 0})
    history = train(linear, tiny_data, batch_size=16, config=train_config(max_epochs=50, patience=3, lr=0.0), seed=0)
    assert [r.epoch for r in history] == [0, 1, 2, 3, 4]


def test_training_runs_to_the_cap_while_improving_and_learns(tiny_data, train_config, small_mlp):
    config = train_config(max_epochs=6, patience=3, min_delta=0.0, lr=1e-2)
    history = train(small_mlp(), tiny_data, batch_size=16, config=config, seed=0)
    assert history[-1].epoch == 6
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].train_accuracy > 0.8


def test_training_is_reproducible_from_its_seed(tiny_data, train_config, small_mlp):
    runs = []
    for _ in range(2):
        model = small_mlp()
        train(model, tiny_data, batch_size=16, config=train_config(max_epochs=2), seed=4)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_batch_larger_than_the_training_set_is_refused(tiny_data, train_config, small_mlp):
    with pytest.raises(ValueError, match="batch size"):
        train(small_mlp(), tiny_data, batch_size=len(tiny_data.train) + 1, config=train_config(max_epochs=1), seed=0)


def test_dropout_masks_come_from_the_run_seed_not_from_what_ran_before(tiny_data, train_config):
    """Two runs of the same seed give the same weights even if other work consumed the global RNG in
    between (C1–C4 have dropout), and the caller's RNG is left as it was."""

    def run() -> dict:
        with torch.random.fork_rng(devices=[]):  # the same x0 each time, drawn without touching our RNG
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3))
        train(model, tiny_data, batch_size=16, config=train_config(max_epochs=2), seed=4)
        return {k: v.clone() for k, v in model.state_dict().items()}

    torch.manual_seed(123)
    first = run()
    torch.rand(1000)  # what another seed's run would have drawn
    state = torch.get_rng_state()
    second = run()
    assert torch.equal(torch.get_rng_state(), state)
    for k in first:
        assert torch.equal(first[k], second[k]), k


def test_fixed_budget_trains_exactly_that_many_epochs(tiny_data, budget, small_mlp):
    history = train(small_mlp(), tiny_data, batch_size=16, config=fixed_budget(budget, 4), seed=0)
    assert [r.epoch for r in history] == [0, 1, 2, 3, 4]  # patience 1 with a flat loss would stop at 2


def test_evaluate_every_keeps_the_trajectory_and_records_less(tiny_data, budget, states_equal, small_mlp):
    every, sparse = small_mlp(), small_mlp()
    full = train(every, tiny_data, batch_size=16, config=fixed_budget(budget, 5), seed=3)
    few = train(sparse, tiny_data, batch_size=16, config=fixed_budget(budget, 5), seed=3, evaluate_every=2)
    assert [r.epoch for r in few] == [0, 2, 4, 5]  # every 2 epochs and the last
    assert few[-1] == full[-1]
    assert states_equal(every.state_dict(), sparse.state_dict())




def test_the_fused_adam_is_adams_update(model_pair, train_config):
    # float64: in float32 the two round differently, and Adam turns that rounding into O(lr) steps for the
    # biases in front of BatchNorm (their true gradient is 0), as in tests/train/test_together.py
    (a, b), _, x, y = model_pair(seed=3)
    a, b, x = a.double(), b.double(), x.double()
    fused = adam(list(a.parameters()), 1e-2, (0.9, 0.999))
    unfused = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.9, 0.999))
    assert fused.defaults["fused"] and not unfused.defaults["fused"]
    for _ in range(5):
        for model, optimizer in ((a, fused), (b, unfused)):
            plain_step(model, optimizer, x, y)
    for name, value in b.state_dict().items():
        torch.testing.assert_close(a.state_dict()[name], value, rtol=1e-9, atol=1e-12)
    assert not torch.allclose(a.state_dict()["net.1.weight"], model_pair(seed=3)[0][0].state_dict()["net.1.weight"].double())


def test_a_diverging_run_stops_at_its_first_non_finite_loss(small_mlp, tiny_data, train_config):
    """Adam at lr 1e30 overflows the weights: the run stops at the first record with a non-finite loss
    instead of training on to max_epochs."""
    history = train(small_mlp(), tiny_data, batch_size=16, config=train_config(max_epochs=50, patience=50, lr=1e30), seed=0)
    assert not math.isfinite(history[-1].train_loss) and len(history) < 51
    assert all(math.isfinite(r.train_loss) for r in history[:-1])


def _target_run(tiny_data, train_config, small_mlp, target, every=1, epochs=8):
    """(history, [(epoch, train loss, weights)] handed to on_target) of one run with `target_loss`."""
    model, reached = small_mlp(), []
    config = train_config(max_epochs=epochs, patience=epochs, lr=1e-2, target_loss=target)
    history = train(model, tiny_data, batch_size=16, config=config, seed=0, evaluate_every=every,
                    on_target=lambda epoch, loss: reached.append((epoch, loss, {k: v.clone() for k, v in model.state_dict().items()})))
    return history, reached


def test_the_target_iterate_is_the_first_epoch_at_or_below_the_target_loss(tiny_data, train_config, small_mlp):
    full, _ = _target_run(tiny_data, train_config, small_mlp, target=None)
    losses = [r.train_loss for r in full[1:]]
    target = (losses[2] + losses[3]) / 2  # between epochs 3 and 4: epoch 4 is the first at or below it
    assert losses[2] > target >= losses[3] and min(losses[:3]) > target  # the loss is falling on this run
    history, reached = _target_run(tiny_data, train_config, small_mlp, target)
    assert history == full  # keeping the iterate changes nothing about the run
    ((epoch, loss, weights),) = reached  # once, and only once
    assert epoch == 4 and loss == losses[3]
    # the weights handed over are that epoch's: a run stopped there ends with them
    at_four = small_mlp()
    train(at_four, tiny_data, batch_size=16, config=train_config(max_epochs=4, patience=8, lr=1e-2), seed=0)
    assert all(torch.equal(weights[k], v) for k, v in at_four.state_dict().items())


def test_the_target_epoch_does_not_depend_on_how_often_records_are_taken(tiny_data, train_config, small_mlp):
    full, _ = _target_run(tiny_data, train_config, small_mlp, target=None)
    target = full[5].train_loss * 1.0001  # epoch 5 (or earlier) is the first at or below it
    expected = next(r.epoch for r in full[1:] if r.train_loss <= target)
    _, every_epoch = _target_run(tiny_data, train_config, small_mlp, target)
    history, sparse = _target_run(tiny_data, train_config, small_mlp, target, every=8)
    assert [r.epoch for r in history] == [0, 8]  # no record at the target epoch: the loop evaluated it anyway
    assert every_epoch[0][0] == sparse[0][0] == expected
    assert sparse[0][1] == pytest.approx(every_epoch[0][1], rel=1e-6)
    assert all(torch.equal(every_epoch[0][2][k], sparse[0][2][k]) for k in sparse[0][2])


def test_a_run_that_never_reaches_the_target_hands_nothing_over(tiny_data, train_config, small_mlp):
    history, reached = _target_run(tiny_data, train_config, small_mlp, target=1e-9, epochs=3)
    assert reached == [] and min(r.train_loss for r in history) > 1e-9
    assert first_at_target(history, 1e-9) is None and first_at_target(history, None) is None
    assert first_at_target(history, history[2].train_loss) == min(r.epoch for r in history[1:] if r.train_loss <= history[2].train_loss)
