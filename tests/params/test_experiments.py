"""lbgap.params.experiments: the sweep, warm start, trajectory and remedies' views."""

from __future__ import annotations

import pytest

from lbgap.params import ParamsError
from lbgap.params.experiments import (
    MitigationParams,
    SweepParams,
    TrajectoryParams,
    WarmStartParams,
    kept_epochs,
    strategy_names,
    sweep_batches,
    sweep_drop,
)
from lbgap.remedies.sam import SamOptions

BAD = [
    (sweep_batches, "sweep.batches", [], "'sweep.batches' must be a non-empty list"),
    (sweep_batches, "sweep.batches", [20, 0], "every 'sweep.batches' entry must be an integer >= 1"),
    (lambda raw: SweepParams.parse(raw, 0), "sweep.seeds", 2, "the sweep's batch size must be an integer >= 1"),
    (lambda raw: SweepParams.parse(raw, 20), "sweep.epochs", 0, "'sweep.epochs' must be an integer >= 1"),
    (sweep_drop, "sweep.drop", -1, "'sweep.drop' must be >= 0"),
    (WarmStartParams.parse, "warm_start.every", 3, "'warm_start.every' = 3 exceeds 'warm_start.sb_epochs' = 2"),
    (WarmStartParams.parse, "warm_start.lb_epochs", 0, "'warm_start.lb_epochs' must be an integer >= 1"),
    (lambda raw: TrajectoryParams.parse(raw, "lb"), "trajectory.at", [0, -1], "every 'trajectory.at' entry must be an integer >= 0"),
    (lambda raw: TrajectoryParams.parse(raw, "mb"), "trajectory.seed", 0, "unknown regime 'mb'"),
    (lambda raw: TrajectoryParams.parse(raw, "sb"), "trajectory.seed", 2, "'trajectory.seed' = 2 names no run: the train stages run seeds 0 .. 1"),
    (lambda raw: TrajectoryParams.parse(raw, "sb"), "trajectory.at", [0, 5000], "'trajectory.at' asks for epoch 5000, beyond 'train.max_epochs'"),
    (WarmStartParams.parse, "warm_start.seed", 7, "'warm_start.seed' = 7 names no run"),
    (WarmStartParams.parse, "train.max_epochs", 1, "'warm_start.sb_epochs' asks for epoch 2, beyond 'train.max_epochs' = 1"),
    (kept_epochs, "warm_start.every", 0, "'warm_start.every' must be an integer >= 1"),
    (lambda raw: MitigationParams.parse(raw, "sam"), "mitigation.sam.rho", -0.1, "'mitigation.sam.rho' must be >= 0 (got -0.1)"),
    (lambda raw: MitigationParams.parse(raw, "sam"), "mitigation.sam.adaptive", 1, "'mitigation.sam.adaptive' must be true or false"),
    (lambda raw: MitigationParams.parse(raw, "conservative"), "mitigation.conservative", {"lam": 0.1}, "missing key 'mitigation.conservative.inner_steps'"),
    (lambda raw: MitigationParams.parse(raw, "conservative"), "mitigation.conservative.inner_steps", 0, "inner_steps >= 1"),
    (lambda raw: MitigationParams.parse(raw, "adversarial"), "mitigation.adversarial.steps", 1.5, "'mitigation.adversarial.steps' must be an integer >= 0 (got 1.5)"),
    (lambda raw: MitigationParams.parse(raw, "adversarial"), "mitigation_seeds", 0, "'mitigation_seeds' must be an integer >= 1"),
    (lambda raw: MitigationParams.parse(raw, "augmentation"), "mitigation.augmentation.signal.shift", 1, "unknown key 'mitigation.augmentation.signal.shift' (did you mean 'mitigation.augmentation.signal.max_shift'?)"),
    (lambda raw: MitigationParams.parse(raw, "dropout"), "seeds", 2, "unknown strategy 'dropout'; known: adamw, adaptive_batch, adversarial"),
    (lambda raw: MitigationParams.parse(raw, "augmentation"), "data.name", "npz", "params: 'mitigation.augmentation': no augmentation is defined for data set 'npz'"),
    (lambda raw: MitigationParams.parse(raw, "sam"), "data.name", "cifar7", "params: unknown data set 'data.name: cifar7'"),
]


@pytest.mark.parametrize(("parse", "key", "value", "message"), BAD)
def test_bad_experiment_params_are_refused(parse, key, value, message, tiny_params, set_key):
    with pytest.raises(ParamsError) as error:
        parse(set_key(tiny_params, key, value))
    assert message in str(error.value) and "\n" not in str(error.value) and "params: params:" not in str(error.value)


def test_experiments_measure_with_the_first_epsilon_and_the_regimes_batch(tiny_params):
    assert SweepParams.parse(tiny_params, 100).probe.epsilon == tiny_params["sharpness"]["epsilons"][0]
    assert TrajectoryParams.parse(tiny_params, "sb").batch_size == tiny_params["small_batch"]
    warm = WarmStartParams.parse(tiny_params)
    assert (warm.small_batch, warm.large_batch) == (tiny_params["small_batch"], tiny_params["batch"])


def test_the_train_stages_keep_what_trajectory_and_warm_start_measure(tiny_params, set_key):
    params = set_key(set_key(tiny_params, "trajectory.at", [8, 0, 3, 3]), "warm_start.sb_epochs", 6)
    params = set_key(set_key(params, "warm_start.every", 4), "train.max_epochs", 10)
    assert kept_epochs(params) == (3, 4, 8)  # x0 (epoch 0) is kept anyway
    assert TrajectoryParams.parse(params, "lb").at_epochs == (0, 3, 8)
    assert WarmStartParams.parse(params).sb_iterates == (0, 4)


def test_a_remedy_is_its_registered_dataclass_trained_at_the_lb_batch(tiny_params):
    config = MitigationParams.parse(tiny_params, "sam")
    assert config.options == SamOptions(rho=0.05, adaptive=False, eta=0.01)
    assert config.raw_options == {"rho": 0.05, "adaptive": False, "eta": 0.01}
    assert (config.train.batch_size, config.train.seeds) == (tiny_params["batch"], tiny_params["mitigation_seeds"])
    assert callable(config.recipe(3, 100, train_size=200).step) and config.small_batch == tiny_params["small_batch"]


def test_the_remedies_come_in_the_order_of_remedies(tiny_params):
    assert strategy_names(tiny_params) == ("sam", "sgd")
    tiny_params["remedies"] = ["sam", "conservative"]
    assert strategy_names(tiny_params) == ("sam", "conservative")
    tiny_params["remedies"] = ["sam", "dropout"]
    with pytest.raises(ParamsError, match="unknown key 'remedies: dropout'; known here: adamw, adaptive_batch"):
        strategy_names(tiny_params)
    del tiny_params["mitigation"]["sam"]
    tiny_params["remedies"] = ["sam"]
    with pytest.raises(ParamsError, match="'remedies' names 'sam', which has no section 'mitigation.sam'"):
        strategy_names(tiny_params)
    tiny_params["remedies"] = ["sgd", "sgd"]
    with pytest.raises(ParamsError, match="lists a strategy twice"):
        strategy_names(tiny_params)
