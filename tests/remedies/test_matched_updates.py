"""Train longer: the LB run makes as many parameter updates as the SB run of its seed, all of them; and
Hoffer et al.'s whole recipe (√ LR, ghost BN, matched updates)."""

from __future__ import annotations

import pytest

import math

from lbgap.remedies.ghost_bn import GhostBatchNorm
from lbgap.remedies.hoffer import HofferOptions, hoffer
from lbgap.remedies.matched_updates import MatchedUpdatesOptions, matched_epochs, matched_updates
from lbgap.train.loop import train
from lbgap.train.recipe import Recipe


@pytest.mark.parametrize(("sb_epochs", "small", "large", "n"), [(3, 12, 48, 96), (64, 256, 4000, 40000), (7, 10, 30, 100)])
def test_the_budget_is_the_fewest_lb_epochs_with_at_least_the_sb_updates(sb_epochs, small, large, n):
    epochs, sb_updates = matched_epochs(sb_epochs, small, large, n), sb_epochs * (n // small)
    assert epochs * (n // large) >= sb_updates > (epochs - 1) * (n // large)


def test_the_lb_run_makes_the_sb_runs_update_count_even_where_the_stopping_rule_would_end_it(run, small_mlp, tiny_data, train_config):
    """SB 12 on 96 samples: 8 updates per epoch, 3 epochs = 24; LB 48: 2 per epoch, so 12 epochs, evaluated
    every 4 (one SB epoch's worth of updates). A stopping rule that fires at the first chance (patience 1,
    an improvement of 10 nats required) ends a plain run early but not this one."""
    recipe = matched_updates(MatchedUpdatesOptions(ratio=1.0), run(sb_epochs=3))
    assert (recipe.max_epochs, recipe.evaluate_every) == (12, 4)
    impatient = train_config(max_epochs=5, patience=1, min_delta=10.0)
    cut = train(small_mlp(), tiny_data, batch_size=48, config=impatient, seed=0, recipe=Recipe(max_epochs=12, evaluate_every=4))
    assert cut[-1].epoch < 12, "the stopping rule should end a plain run early"
    history = train(small_mlp(), tiny_data, batch_size=48, config=impatient, seed=0, recipe=recipe)
    assert history[-1].updates == 3 * (96 // 12) and history[-1].epoch == 12
    assert [r.epoch for r in history] == [0, 4, 8, 12]


def test_a_run_without_an_sb_run_to_match_is_refused(run):
    with pytest.raises(ValueError, match="seed 0"):
        matched_updates(MatchedUpdatesOptions(ratio=1.0), run(sb_epochs=None))


def test_hoffers_recipe_combines_sqrt_scaling_ghost_batchnorm_and_matched_updates(run, small_mlp, tiny_data, train_config):
    recipe = hoffer(HofferOptions(virtual_batch=6, warmup_epochs=0, ratio=1.0), run(sb_epochs=3))
    assert recipe.learning_rate(0) == recipe.learning_rate(7.5) == math.sqrt(48 / 12)
    model = recipe.prepare(small_mlp())
    ghosts = [m for m in model.modules() if isinstance(m, GhostBatchNorm)]
    assert ghosts and all(m.virtual_batch == 6 for m in ghosts)
    history = train(model, tiny_data, batch_size=48, config=train_config(max_epochs=5, patience=1, min_delta=10.0), seed=0, recipe=recipe)
    assert history[-1].updates == 3 * (96 // 12)
