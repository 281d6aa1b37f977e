"""Every bad parameter is refused with one clear line naming the key."""

from __future__ import annotations

import pytest

from lbgap.params.core import (
    sweep_batches,
    sweep_drop,
    DataParams,
    InterpolateParams,
    ParamsError,
    SharpnessParams,
    SweepParams,
    TrainParams,
    TrajectoryParams,
    WarmStartParams,
)
from tests.conftest import tiny_params


def _set(params: dict, dotted: str, value) -> dict:
    node = params
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return params


BAD = [
    (TrainParams, "batch", 0, "'batch' must be an integer >= 1"),
    (TrainParams, "batch", -5, "'batch' must be an integer >= 1"),
    (TrainParams, "batch", 50.5, "'batch' must be an integer"),
    (TrainParams, "batch", "large", "'batch' must be an integer"),
    (TrainParams, "batch", True, "'batch' must be an integer"),
    (TrainParams, "small_batch", 0, "'small_batch' must be an integer >= 1"),
    (TrainParams, "seeds", 0, "'seeds' must be an integer >= 1"),
    (TrainParams, "model", "resnet9", "unknown model 'model: resnet9'; known: C1, C2"),
    (TrainParams, "train.lr", 0, "'train.lr' must be > 0"),
    (TrainParams, "train.max_epochs", 0, "'train.max_epochs' must be an integer >= 1"),
    (TrainParams, "train.betas", [0.9], "'train.betas' must be two numbers"),
    (DataParams, "data.name", "cifar7", "unknown data set 'data.name: cifar7'; known: mnist1d"),
    (SharpnessParams, "sharpness.epsilons", [1e-3, 0], "every 'sharpness.epsilons' entry must be a finite number > 0"),
    (SharpnessParams, "sharpness.epsilons", [-1e-3], "every 'sharpness.epsilons' entry must be a finite number > 0"),
    (SharpnessParams, "sharpness.epsilons", [], "'sharpness.epsilons' must be a non-empty list"),
    (SharpnessParams, "sharpness.max_iter", 0, "'sharpness.max_iter' must be an integer >= 1"),
    (InterpolateParams, "interpolate.alpha_max", -1.0, "the α range is empty"),
    (InterpolateParams, "interpolate.alpha_max", -2.0, "the α range is empty"),
    (InterpolateParams, "interpolate.seed", 2, "'interpolate.seed' = 2 must be < 'seeds' = 2"),
]


@pytest.mark.parametrize(("kind", "key", "value", "message"), BAD)
def test_bad_params_are_refused_with_a_clear_message(kind, key, value, message):
    params = _set(tiny_params(), key, value)
    with pytest.raises(ParamsError) as error:
        kind.parse(params, "lb" if key == "batch" else "sb") if kind is TrainParams else kind.parse(params)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_key_is_named():
    params = tiny_params()
    del params["train"]["patience"]
    with pytest.raises(ParamsError, match="missing key 'train.patience'"):
        TrainParams.parse(params, "sb")


def test_batch_larger_than_training_set():
    config = TrainParams.parse(tiny_params(), "lb")
    config.check_fits(config.batch_size)
    with pytest.raises(ParamsError, match="'batch' = 100 exceeds the 99 training samples"):
        config.check_fits(99)


def test_defaults_parse_and_alpha_grid_hits_both_solutions():
    import yaml

    from tests.conftest import REPO

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert TrainParams.parse(raw, "lb").batch_size == raw["batch"]
    alphas = InterpolateParams.parse(raw).alphas
    assert len(alphas) == 25 and alphas[0] == -1.0 and alphas[-1] == 2.0
    assert 0.0 in alphas and 1.0 in alphas


EXPERIMENTS_BAD = [
    (sweep_batches, "sweep.batches", [], "'sweep.batches' must be a non-empty list"),
    (sweep_batches, "sweep.batches", [20, 0], "every 'sweep.batches' entry must be an integer >= 1"),
    (lambda raw: SweepParams.parse(raw, 0), "sweep.seeds", 2, "the sweep's batch size must be an integer >= 1"),
    (lambda raw: SweepParams.parse(raw, 20), "sweep.epochs", 0, "'sweep.epochs' must be an integer >= 1"),
    (sweep_drop, "sweep.drop", -1, "'sweep.drop' must be >= 0"),
    (WarmStartParams.parse, "warm_start.every", 3, "'warm_start.every' = 3 exceeds 'warm_start.sb_epochs' = 2"),
    (WarmStartParams.parse, "warm_start.lb_epochs", 0, "'warm_start.lb_epochs' must be an integer >= 1"),
    (lambda raw: TrajectoryParams.parse(raw, "lb"), "trajectory.at", [0, -1], "every 'trajectory.at' entry must be an integer >= 0"),
    (lambda raw: TrajectoryParams.parse(raw, "mb"), "trajectory.seed", 0, "unknown regime 'mb'"),
]


@pytest.mark.parametrize(("parse", "key", "value", "message"), EXPERIMENTS_BAD)
def test_bad_experiment_params_are_refused(parse, key, value, message):
    with pytest.raises(ParamsError) as error:
        parse(_set(tiny_params(), key, value))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_experiments_measure_with_the_first_epsilon_and_the_regimes_batch():
    raw = tiny_params()
    assert SweepParams.parse(raw, 100).probe.epsilon == raw["sharpness"]["epsilons"][0]
    assert TrajectoryParams.parse(raw, "sb").batch_size == raw["small_batch"]
    warm = WarmStartParams.parse(raw)
    assert (warm.small_batch, warm.large_batch) == (raw["small_batch"], raw["batch"])


CURVATURE_BAD = [
    ("curvature.lanczos.top_k", 9, "'curvature.lanczos.top_k' = 9 exceeds 'curvature.lanczos.steps' = 5"),
    ("curvature.trace.tol", -0.1, "'curvature.trace.tol' must be >= 0"),
    ("curvature.epsilons", [0.001, 0], "every 'curvature.epsilons' entry must be > 0"),
    ("curvature.adaptive_eta", [-1], "every 'curvature.adaptive_eta' entry must be >= 0"),
    ("curvature.noise_scale.big", 4, "'curvature.noise_scale.small' must be < 'curvature.noise_scale.big'"),
    ("curvature.samples", 0, "'curvature.samples' must be an integer >= 1"),
    ("rescaling.factor", 0, "'rescaling.factor' must be > 0"),
    ("rescaling.seed", 5, "'rescaling.seed' = 5 must be < 'seeds' = 2"),
    ("surface.plane_max", -1.0, "'surface.plane_min' must be < 'surface.plane_max'"),
    ("surface.points", 1, "'surface.points' must be an integer >= 2"),
]


@pytest.mark.parametrize(("key", "value", "message"), CURVATURE_BAD)
def test_bad_curvature_params_are_refused(key, value, message):
    from lbgap.params.measures import CurvatureParams, RescalingParams, SurfaceParams

    section = key.split(".")[0]
    parse = {"curvature": CurvatureParams.parse, "rescaling": RescalingParams.parse, "surface": SurfaceParams.parse}[section]
    with pytest.raises(ParamsError) as error:
        parse(_set(tiny_params(), key, value))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_curvature_defaults_parse():
    import yaml

    from lbgap.params.measures import CurvatureParams, RescalingParams, SurfaceParams
    from tests.conftest import REPO

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    curvature = CurvatureParams.parse(raw)
    assert curvature.epsilon == raw["sharpness"]["epsilons"][0] and 0.0 in curvature.adaptive_etas
    assert RescalingParams.parse(raw).factor > 0
    axis = SurfaceParams.parse(raw).axis(-1.0, 1.0)
    assert axis[0] == -1.0 and axis[-1] == 1.0 and len(axis) == raw["surface"]["points"]
