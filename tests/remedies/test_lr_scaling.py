"""Learning-rate scaling with warm-up: the optimizer's learning rate at every step of a real run."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from lbgap.remedies.linear_scaling import LinearScalingOptions, linear_scaling
from lbgap.remedies.sqrt_scaling import SqrtScalingOptions, sqrt_scaling
from lbgap.train.loop import train
from lbgap.train.recipe import plain_step, warmup_scaling


def _learning_rates(recipe, model, data, config):
    """The learning rate each step of `recipe` ran with (batch 48 on 96 samples: 2 steps per epoch)."""
    seen = []

    def step(model, optimizer, x, y):
        seen.append(optimizer.param_groups[0]["lr"])
        return plain_step(model, optimizer, x, y)

    train(model, data, batch_size=48, config=config, seed=0, recipe=replace(recipe, step=step))
    return seen


@pytest.mark.parametrize(("factory", "options", "scale"), [
    (linear_scaling, LinearScalingOptions(warmup_epochs=2), 48 / 12),
    (sqrt_scaling, SqrtScalingOptions(warmup_epochs=2), math.sqrt(48 / 12)),
])
def test_after_warm_up_the_lr_is_the_sb_one_times_the_rule(factory, options, scale, run, small_mlp, tiny_data, train_config):
    config = train_config(max_epochs=4, lr=1e-3)
    lrs = _learning_rates(factory(options, run()), small_mlp(), tiny_data, config)
    # 2 steps per epoch: epochs done 0, 0.5, 1, 1.5 during the 2-epoch warm-up, then the scaled rate
    expected = [1e-3 * (1 + (scale - 1) * t / 2) for t in (0, 0.5, 1, 1.5)] + [1e-3 * scale] * 4
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert lrs[0] == pytest.approx(1e-3)  # starts at the SB learning rate


def test_no_warm_up_scales_from_the_first_step():
    assert [warmup_scaling(3.0, 0)(t) for t in (0, 0.5, 10)] == [3.0, 3.0, 3.0]


def test_the_schedule_multiplies_the_optimizers_own_rate(small_mlp, tiny_data, train_config):
    """With SGD (whose lr is not config.lr) the factor applies to SGD's rate."""
    from lbgap.train.recipe import Recipe

    recipe = Recipe(optimizer=lambda p, lr, betas: torch.optim.SGD(p, lr=0.5), learning_rate=lambda t: 0.1)
    assert _learning_rates(recipe, small_mlp(), tiny_data, train_config(max_epochs=1, lr=1e-3)) == pytest.approx([0.05, 0.05])
