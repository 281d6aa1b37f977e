"""lbgap.train.seeds: one run per seed, each equal to training that seed alone."""

from __future__ import annotations

import pytest
import torch

from lbgap.tensors import distance, parameters_of
from lbgap.train.loop import train
from lbgap.train.recipe import Recipe
from lbgap.train.seeds import FINAL_KEYS, train_seeds


def test_each_seed_is_the_run_trained_alone_from_its_own_x0(tiny_data, train_config, small_mlp):
    config = train_config(max_epochs=2)
    epochs = []
    runs = list(train_seeds(small_mlp, tiny_data, batch_size=16, seeds=2, config=config, amp=False,
                            on_epoch=lambda seed, record: epochs.append((seed, record.epoch))))
    assert [c.seed for c, _, _, _ in runs] == [0, 1] and epochs == [(0, 1), (0, 2), (1, 1), (1, 2)]
    for checkpoint, kept, final, history in runs:
        alone = small_mlp(checkpoint.seed)
        assert all(torch.equal(checkpoint.x0[k], v) for k, v in alone.state_dict().items())
        records = train(alone, tiny_data, batch_size=16, config=config, seed=checkpoint.seed)
        assert all(torch.equal(checkpoint.final[k], v) for k, v in alone.state_dict().items())
        assert set(FINAL_KEYS) <= set(final) and final["epoch"] == 2 == records[-1].epoch
        assert final["distance_from_x0"] == distance(parameters_of(alone), checkpoint.x0) > 0
        assert [row["epoch"] for row in history] == [0, 1, 2] and {row["seed"] for row in history} == {checkpoint.seed}
        assert kept.seed == checkpoint.seed and kept.stopped_at == 2 and sorted(kept.states) == [0]
    assert not torch.equal(runs[0][0].x0["net.1.weight"], runs[1][0].x0["net.1.weight"])


def test_a_remedy_supplies_each_seeds_step(tiny_data, train_config, small_mlp):
    calls = []

    def step_for_seed(seed):
        def step(model, optimizer, x, y):
            calls.append(seed)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.detach()
        return step

    list(train_seeds(small_mlp, tiny_data, batch_size=48, seeds=2, config=train_config(max_epochs=1), amp=False,
                     recipe_for_seed=lambda seed: Recipe(step=step_for_seed(seed))))
    assert calls == [0, 0, 1, 1]  # 96 samples / 48 per batch = 2 steps per seed


def test_seeds_trained_together_yield_the_same_runs(data64, train_config, small_mlp):
    data, config = data64, train_config(max_epochs=3)  # float64: see the data64 fixture
    make = lambda seed: small_mlp(seed).double()  # noqa: E731
    first = list(train_seeds(make, data, batch_size=16, seeds=2, config=config, amp=False))
    # a target between epoch 1's and epoch 2's loss of seed 0: both paths find the same iterate for it
    losses = [r["train_loss"] for r in first[0][3]]
    config = train_config(max_epochs=3, target_loss=(losses[1] + losses[2]) / 2)
    alone = list(train_seeds(make, data, batch_size=16, seeds=2, config=config, amp=False, keep_epochs={2}))
    assert alone[0][0].target_epoch == 2 and alone[0][2]["target_train_loss"] <= config.target_loss
    together = list(train_seeds(make, data, batch_size=16, seeds=2, config=config, amp=False, keep_epochs={2}, together=True))
    for (a, a_kept, a_final, a_history), (b, b_kept, b_final, b_history) in zip(alone, together):
        assert a.seed == b.seed and sorted(a_kept.states) == sorted(b_kept.states) == [0, 2]
        assert all(torch.equal(a.x0[k], b.x0[k]) for k in a.x0)
        for k in a.final:
            torch.testing.assert_close(b.final[k], a.final[k], rtol=1e-7, atol=1e-9)
            torch.testing.assert_close(b_kept.iterate(2)[k], a_kept.iterate(2)[k], rtol=1e-7, atol=1e-9)
        assert a.target_epoch == b.target_epoch and (a.at_target is None) == (b.at_target is None)
        assert a_final["target_updates"] == b_final["target_updates"]
        assert b_final["target_train_loss"] == pytest.approx(a_final["target_train_loss"], rel=1e-9, nan_ok=True)
        for k in a.at_target or {}:
            torch.testing.assert_close(b.at_target[k], a.at_target[k], rtol=1e-7, atol=1e-9)
        assert [r["epoch"] for r in a_history] == [r["epoch"] for r in b_history] and b_final["epoch"] == a_final["epoch"]
        assert b_final["train_loss"] == pytest.approx(a_final["train_loss"], rel=1e-9)


def test_a_remedy_cannot_train_together(tiny_data, train_config, small_mlp):
    step = lambda model, optimizer, x, y: None  # noqa: E731
    with pytest.raises(ValueError, match="plain Adam steps only"):
        next(train_seeds(small_mlp, tiny_data, batch_size=16, seeds=2, config=train_config(max_epochs=1), amp=False,
                         recipe_for_seed=lambda seed: Recipe(step=step), together=True))

