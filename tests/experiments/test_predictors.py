"""lbgap.experiments.predictors: every measure of every solution, and Kendall τ with generalization overall,
within groups and with bootstrap intervals, against scipy and closed cases."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kendalltau

from lbgap.experiments.predictors import (
    Solution, bootstrap_interval, fitted, measure_columns, measure_solutions, rank_correlations, solutions_of, within_tau,
)
from lbgap.measures.hessian import hessian_operator
from lbgap.measures.sharpness import sharpness_of_model
from lbgap.measures.subspace import random_subspace
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.evaluation import evaluate


def test_within_tau_is_the_pair_weighted_mean_of_the_groups_tau():
    rng = np.random.default_rng(0)
    m, t = rng.normal(size=12), rng.normal(size=12)
    groups = np.array([1] * 5 + [2] * 4 + [3] * 2 + [4])  # groups 3 and 4 are too small
    taus = [kendalltau(m[groups == g], t[groups == g]).statistic for g in (1, 2)]
    assert within_tau(m, t, groups) == pytest.approx((10 * taus[0] + 6 * taus[1]) / 16, rel=1e-12)
    assert np.isnan(within_tau(m[9:], t[9:], groups[9:]))  # no group of 3


def test_a_measure_that_only_separates_groups_has_tau_zero_within():
    """Batch 1 solutions all generalize worse and are all sharper, but inside each group the measure is noise."""
    rng = np.random.default_rng(1)
    groups = np.repeat([256, 4000], 20)
    gap = np.where(groups == 4000, 5.0, 1.0) + rng.normal(scale=0.1, size=40)
    measure = np.where(groups == 4000, 100.0, 10.0) + rng.permutation(40) * 1e-3
    assert kendalltau(measure, gap).statistic > 0.4
    within = within_tau(measure, gap, groups)
    low, high, valid = bootstrap_interval(measure, gap, groups, resamples=300, confidence=0.95, seed=0)
    assert abs(within) < 0.2 and low < 0 < high and valid == 300
    low, high, _ = bootstrap_interval(measure, gap, None, resamples=300, confidence=0.95, seed=0)
    assert low > 0.3


def test_a_perfect_ranking_has_a_degenerate_interval_at_one():
    x = np.arange(10.0)
    assert bootstrap_interval(x, 2 * x + 1, None, resamples=100, confidence=0.9, seed=0) == pytest.approx((1.0, 1.0, 100))


def test_resamples_where_tau_is_undefined_are_counted_out():
    """Two distinct values among 6: some resamples draw one value only, where τ is undefined."""
    m, t = np.array([0, 0, 0, 0, 0, 1.0]), np.arange(6.0)
    low, high, valid = bootstrap_interval(m, t, None, resamples=200, confidence=0.9, seed=0)
    assert 0 < valid < 200 and 0 < low <= high <= 1
    assert bootstrap_interval(m[:1], t[:1], None, resamples=10, confidence=0.9, seed=0)[2] == 0


def test_rank_correlations_cover_every_measure_target_and_scope():
    table = pd.DataFrame({"batch_size": [1, 1, 1, 2, 2, 2], "gap": [1, 2, 3, 4, 5, 6.0], "test_loss": [6, 5, 4, 3, 2, 1.0],
                          "m": [1, 2, 3, 4, 5, 6.0], "nan_measure": [np.nan, 1, 2, 3, 4, 5]})
    taus = rank_correlations(table, ["m", "nan_measure"], resamples=20, confidence=0.9, seed=0)
    assert len(taus) == 2 * 2 * 2
    get = {(r.measure, r.target, r.scope): r for r in taus.itertuples()}
    assert get[("m", "gap", "all")].tau == pytest.approx(1) and get[("m", "test_loss", "within")].tau == pytest.approx(-1)
    assert get[("nan_measure", "gap", "all")].solutions == 5  # the solution without a value is left out
    assert get[("nan_measure", "gap", "within")].groups == 1 and get[("m", "gap", "within")].groups == 2  # 2 + 3 vs 3 + 3


@pytest.fixture
def settings(curvature_settings):
    return curvature_settings(steps=40)


def test_every_solution_gets_its_generalization_and_every_measure(trained_mlp, tiny_data, settings, small_mlp):
    model = trained_mlp()
    x0 = small_mlp(width=8, depth=2).state_dict()
    solutions = [Solution("lb", "lb seed 0", 48, x0, model.state_dict())]
    n = sum(p.numel() for p in model.parameters())
    subspace = random_subspace(n, 3, 0)
    frame = measure_solutions(model, solutions, tiny_data, tiny_data.train, settings, [1e-3], subspace, seed=0)
    row = frame.iloc[0]
    train, test = evaluate(model, tiny_data.train, 1000), evaluate(model, tiny_data.test, 1000)
    assert row.gap == pytest.approx(100 * (train.accuracy - test.accuracy)) and row.test_loss == pytest.approx(test.loss)
    matvec, size = hessian_operator(model, tiny_data.train, settings.eval_chunk)
    dense = torch.stack([matvec(column) for column in torch.eye(size)]).double().numpy()
    assert row.lambda_max == pytest.approx(np.linalg.eigvalsh((dense + dense.T) / 2)[-1], rel=1e-3)
    expected = sharpness_of_model(model, tiny_data.train, 1e-3, subspace, chunk=settings.eval_chunk, maximizer=settings.maximizer, seed=0)
    assert row["phi_subspace_eps_1e-03"] == expected.phi
    assert row.distance_from_x0 > 0 and row.inverse_sigma_sq_absolute > 0
    assert measure_columns(frame)[:4] == ["train_loss", "distance_from_x0", "phi_full_eps_1e-03", "phi_subspace_eps_1e-03"]
    assert row.train_loss == pytest.approx(train.loss)


def test_a_diverged_solution_gets_no_measures_and_fitted_solutions_are_chosen(trained_mlp, tiny_data, settings, small_mlp):
    model = trained_mlp()
    broken = {k: (torch.full_like(v, float("nan")) if k.endswith("weight") else v) for k, v in model.state_dict().items()}
    solutions = [Solution("lb", "ok", 48, small_mlp(width=8, depth=2).state_dict(), model.state_dict()),
                 Solution("lb", "diverged", 48, small_mlp(width=8, depth=2).state_dict(), broken)]
    subspace = random_subspace(sum(p.numel() for p in model.parameters()), 3, 0)
    frame = measure_solutions(model, solutions, tiny_data, tiny_data.train, settings, [1e-3], subspace, seed=0)
    assert np.isfinite(frame.loc[0, "lambda_max"]) and np.isnan(frame.loc[1, "lambda_max"])
    assert list(fitted(frame, 0.5)) == [frame.loc[0, "train_accuracy"] >= 50, frame.loc[1, "train_accuracy"] >= 50]


def test_a_family_gives_each_run_its_final_weights_and_its_weights_at_the_target_where_it_got_there():
    state = lambda v: {"w": torch.full((2,), float(v))}  # noqa: E731
    reached = Checkpoint(state(0), state(1), batch_size=64, seed=0, at_target=state(2), target_epoch=3)
    missed = Checkpoint(state(0), state(4), batch_size=64, seed=1)
    found = solutions_of("sweep", "b64", [reached, missed])
    assert [(s.label, s.point, float(s.weights["w"][0])) for s in found] == [
        ("sweep b64 seed 0", "final", 1.0), ("sweep b64 seed 0 at target loss", "target", 2.0), ("sweep b64 seed 1", "final", 4.0)]
    assert {s.family for s in found} == {"sweep"} and {s.batch_size for s in found} == {64}
    assert [s.label for s in solutions_of("sb", None, [missed])] == ["sb seed 1"]
