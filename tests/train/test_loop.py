"""lbgap.train.loop: the training loop, its stopping rule, fixed budgets and seeding."""

from __future__ import annotations

import math

import pytest
import torch

from lbgap.models import build_model
from lbgap.train.evaluation import evaluate
from lbgap.train.loop import TARGET_CHECKS_PER_EPOCH, TARGET_GATE, checked_updates, fixed_budget, near_target, should_stop, train
from lbgap.train.recipe import Recipe, adam, plain_step


@pytest.mark.parametrize(
    ("losses", "patience", "min_delta", "stop"),
    [
        ([1.0, 0.5], 2, 0.0, False),  # not enough history yet
        ([1.0, 0.9, 0.8, 0.7], 2, 0.01, False),  # still improving by 0.1 per epoch
        ([1.0, 0.5, 0.5, 0.5], 2, 0.0, True),  # flat for `patience` epochs
        ([1.0, 0.5, 0.6, 0.7], 2, 0.0, False),  # worse for `patience` epochs, the last above the window's median
        ([1.0, 0.5, 0.6, 0.55], 2, 0.0, True),  # worse for `patience` epochs, the last at most the median
        ([1.0, 0.5, 0.4995, 0.4992], 2, 1e-3, True),  # improving, but by less than min_delta
        ([1.0, 0.5, 0.4995, 0.4985], 2, 1e-3, False),  # best of the window beats best before by > min_delta
        ([1.0, 0.5, 0.7, 0.5], 2, 0.0, True),  # the best (0.5) lies before the window of 2
        ([1.0, 0.5, 0.7, 0.5], 3, 0.0, False),  # a window of 3 includes it: 0.5 < 1.0
        ([0.01, 2e-4, 2e-4, 2e-4, 0.46], 3, 1e-3, False),  # Adam's spike near zero loss: the rule waits ...
        ([0.01, 2e-4, 2e-4, 2e-4, 0.46, 0.02, 8e-4], 3, 1e-3, True),  # ... until the run is back on its plateau
        ([0.01, 0.0025, 0.006, 0.009, 0.005], 3, 1e-3, True),  # a noisy plateau far above its best still ends
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


def _every_update(tiny_data, train_config, small_mlp, epochs=8, lr=1e-2):
    """Brute force: the run's full-training-set loss (eval mode) and weights after every update, recorded by
    a step that evaluates after stepping (evaluation changes nothing about training)."""
    model, after = small_mlp(), []

    def step(stepped, optimizer, x, y):
        loss = plain_step(stepped, optimizer, x, y)
        after.append((evaluate(model, tiny_data.train, 10_000).loss, {k: v.clone() for k, v in model.state_dict().items()}))
        return loss

    config = train_config(max_epochs=epochs, patience=epochs, lr=lr)
    history = train(model, tiny_data, batch_size=16, config=config, seed=0, recipe=Recipe(step=step))
    return history, after


def _target_run(tiny_data, train_config, small_mlp, target, every=1, epochs=8, lr=1e-2):
    """(history, the records handed to on_target with the weights then) of one run with `target_loss`."""
    model, reached = small_mlp(), []
    config = train_config(max_epochs=epochs, patience=epochs, lr=lr, target_loss=target)
    history = train(model, tiny_data, batch_size=16, config=config, seed=0, evaluate_every=every,
                    on_target=lambda record: reached.append((record, {k: v.clone() for k, v in model.state_dict().items()})))
    return history, reached


def _a_target_inside_an_epoch(history, after, steps):
    """(update u, its loss): the first update that sets a new lowest loss, is not an epoch's last, and starts
    an epoch's checks (the epoch-end loss before it within TARGET_GATE of it)."""
    for u, (loss, _) in enumerate(after, start=1):
        epoch_start = history[(u - 1) // steps].train_loss
        if u % steps and loss < min(l for l, _ in after[: u - 1] or [(math.inf, None)]) and epoch_start <= TARGET_GATE * loss:
            return u, loss
    raise AssertionError("no such update on this run")


def test_the_target_iterate_is_the_first_update_at_or_below_the_target_loss(tiny_data, train_config, small_mlp):
    history, after = _every_update(tiny_data, train_config, small_mlp)
    steps = len(tiny_data.train) // 16  # ≤ TARGET_CHECKS_PER_EPOCH: near the target every update is checked
    assert steps <= TARGET_CHECKS_PER_EPOCH
    u, target = _a_target_inside_an_epoch(history, after, steps)
    with_target, reached = _target_run(tiny_data, train_config, small_mlp, target)
    assert with_target == history  # checking the target changes nothing about the run
    ((record, weights),) = reached  # once, and only once
    assert (record.updates, record.epoch) == (u, (u - 1) // steps + 1)  # mid-epoch, not at the epoch's end
    assert record.train_loss == pytest.approx(target, rel=1e-6) and record.train_loss <= target
    assert all(torch.equal(weights[k], v) for k, v in after[u - 1][1].items())  # the weights after update u
    assert 0 < record.test_accuracy <= 1


def test_the_target_does_not_depend_on_how_often_records_are_taken(tiny_data, train_config, small_mlp):
    history, after = _every_update(tiny_data, train_config, small_mlp)
    u, target = _a_target_inside_an_epoch(history, after, len(tiny_data.train) // 16)
    _, every_epoch = _target_run(tiny_data, train_config, small_mlp, target)
    sparse_history, sparse = _target_run(tiny_data, train_config, small_mlp, target, every=8)
    assert [r.epoch for r in sparse_history] == [0, 8]  # no record near the target: the loop evaluated anyway
    assert every_epoch[0][0].updates == sparse[0][0].updates == u
    assert sparse[0][0].train_loss == pytest.approx(every_epoch[0][0].train_loss, rel=1e-6)
    assert all(torch.equal(every_epoch[0][1][k], sparse[0][1][k]) for k in sparse[0][1])


def test_far_from_the_target_only_epoch_ends_are_checked(tiny_data, train_config, small_mlp):
    # at lr 0.5 epoch 1 takes the loss from 0.93 to 0.07: a target of 0.22 is passed inside it (0.21 after
    # update 4), but the epoch started above TARGET_GATE × the target, so nothing inside it is checked and
    # its end is the first check at or below the target
    history, after = _every_update(tiny_data, train_config, small_mlp, epochs=2, lr=0.5)
    steps, target = len(tiny_data.train) // 16, 0.22
    assert history[0].train_loss > TARGET_GATE * target and min(loss for loss, _ in after[: steps - 1]) < target
    _, reached = _target_run(tiny_data, train_config, small_mlp, target, epochs=2, lr=0.5)
    assert (reached[0][0].epoch, reached[0][0].updates) == (1, steps) and reached[0][0] == history[1]


def test_a_run_that_never_reaches_the_target_hands_nothing_over(tiny_data, train_config, small_mlp):
    history, reached = _target_run(tiny_data, train_config, small_mlp, target=1e-9, epochs=3)
    assert reached == [] and min(r.train_loss for r in history) > 1e-9


def test_the_within_epoch_checks_are_every_tenth_of_the_epoch_and_never_its_last_update():
    assert checked_updates(100) == set(range(10, 100, 10))
    assert checked_updates(24) == set(range(2, 24, 2))
    assert checked_updates(5) == {1, 2, 3, 4}  # at most once per update
    assert checked_updates(1) == set()  # the epoch's end checks it
    assert near_target(0.04, 0.01) and not near_target(0.041, 0.01) and not near_target(0.0, None)
