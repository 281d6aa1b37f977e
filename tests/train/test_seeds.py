"""lbgap.train.seeds: one run per seed, each equal to training that seed alone."""

from __future__ import annotations

import torch

from lbgap.tensors import distance, parameters_of
from lbgap.train.loop import train
from lbgap.train.seeds import FINAL_KEYS, train_seeds


def test_each_seed_is_the_run_trained_alone_from_its_own_x0(tiny_data, train_config, small_mlp):
    config = train_config(max_epochs=2)
    epochs = []
    runs = list(train_seeds(small_mlp, tiny_data, batch_size=16, seeds=2, config=config, amp=False,
                            on_epoch=lambda seed, record: epochs.append((seed, record.epoch))))
    assert [c.seed for c, _, _ in runs] == [0, 1] and epochs == [(0, 1), (0, 2), (1, 1), (1, 2)]
    for checkpoint, final, history in runs:
        alone = small_mlp(checkpoint.seed)
        assert all(torch.equal(checkpoint.x0[k], v) for k, v in alone.state_dict().items())
        records = train(alone, tiny_data, batch_size=16, config=config, seed=checkpoint.seed)
        assert all(torch.equal(checkpoint.final[k], v) for k, v in alone.state_dict().items())
        assert set(FINAL_KEYS) <= set(final) and final["epoch"] == 2 == records[-1].epoch
        assert final["distance_from_x0"] == distance(parameters_of(alone), checkpoint.x0) > 0
        assert [row["epoch"] for row in history] == [0, 1, 2] and {row["seed"] for row in history} == {checkpoint.seed}
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

    list(train_seeds(small_mlp, tiny_data, batch_size=48, seeds=2, config=train_config(max_epochs=1), amp=False, step_for_seed=step_for_seed))
    assert calls == [0, 0, 1, 1]  # 96 samples / 48 per batch = 2 steps per seed
