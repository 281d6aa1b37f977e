"""lbgap.params: params.yaml as one dataclass per section, validated whole — every key declared once,
every bad value or relation refused with one line naming the key."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import get_args

import pytest
import yaml

from lbgap.data.sources import CIFAR, MNIST_LIKE
from lbgap.measures.ascent import ASCENTS
from lbgap.models import list_models, model_options
from lbgap.params import ParamsError, as_yaml, kept_epochs, noise_scale_defined, reached, read_params, run_seed
from lbgap.params.sections import Ascent, DataName, ModelName, Models

REPO = Path(__file__).resolve().parents[2]  # the repository root


@pytest.mark.parametrize("which", ["committed", "tiny"])
def test_the_dataclasses_hold_exactly_the_keys_of_params_yaml(which, tiny_params):
    """as_yaml(read_params(raw)) == raw: each key of the file is one field, under its YAML name, and no field
    is anything but a key (the committed file and the tests' tiny one)."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text()) if which == "committed" else tiny_params
    assert as_yaml(read_params(raw)) == raw


BAD = [
    ("bach", 100, "unknown key 'bach' (did you mean 'batch'?)"),
    ("train.max_epoch", 3, "unknown key 'train.max_epoch' (did you mean 'train.max_epochs'?)"),
    ("batch", 0, "'batch' must be >= 1 (got 0)"),
    ("sharpness.epsilons", [0.001, -0.001], "'sharpness.epsilons[1]' must be > 0 (got -0.001)"),
    ("sharpness.ascents", ["lbfgsb", "adam"], "'sharpness.ascents[1]' must be one of lbfgsb, lbfgsb_log, apgd"),
    ("train.betas", [0.9], "'train.betas' must be a list of 2 entries"),
    ("train.lr", float("nan"), "'train.lr' must be a finite number"),
    ("runtime.model", "resnet9", "'runtime.model' must be one of mlp, F1"),
    ("runtime.models.mlp.dept", 2, "did you mean 'runtime.models.mlp.depth'"),
    ("runtime.sync_batchnorm", True, "'runtime.sync_batchnorm' synchronizes data-parallel workers"),
    ("data.name", "cifar7", "'data.name' must be one of mnist1d, mnist"),
    ("data.name", "npz", "'data.name: npz' needs 'data.path'"),
    ("predictors.confidence", 1.0, "'predictors.confidence' must be < 1"),
    ("curvature.lanczos.top_k", 9, "'curvature.lanczos.top_k' = 9 exceeds 'curvature.lanczos.steps' = 5"),
    ("curvature.noise_scale.small", 64, "'curvature.noise_scale.small' must be < 'curvature.noise_scale.big'"),
    ("interpolate.alpha_max", -2.0, "the α range is empty"),
    ("surface.plane_max", -1.0, "'surface.plane_min' must be < 'surface.plane_max'"),
    ("warm_start.every", 3, "'warm_start.every' = 3 exceeds 'warm_start.sb_epochs' = 2"),
    ("remedies", ["sam", "sma"], "'remedies' names 'sma', which has no section 'mitigation.sma' (did you mean 'sam'?)"),
    ("remedies", ["sam", "zzz"], "'remedies' names 'zzz', which has no section 'mitigation.zzz'; the sections are "),
    ("remedies", ["sam", "sam"], "'remedies' lists a remedy twice"),
    ("tuning.grids.sam", {"rho": [0.01, 0.02, 0.05]}, "grids in 'tuning.grids' must be of one size, for an equal search budget"),
    ("tuning.grids.sam", {"rho": []}, "'tuning.grids.sam' must map options to non-empty lists"),
    ("tuning.grids.sam", [0.01], "'tuning.grids.sam' must map options to non-empty lists"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD)
def test_bad_values_and_relations_are_refused_in_one_line(key, value, message, tiny_params, set_key):
    with pytest.raises(ParamsError) as error:
        read_params(set_key(tiny_params, key, value))
    assert message in str(error.value), str(error.value)
    assert str(error.value).startswith("params: ") and "\n" not in str(error.value)


def test_relations_one_stage_needs_are_checked_by_it_not_by_the_file(tiny_params, set_key):
    """A trajectory epoch beyond the cap, a seed no run has, the noise scale under batch statistics: the file
    reads (a targeted run of other stages goes ahead), and the stage that needs the relation refuses it."""
    for key, value in (("trajectory.at", [0, 5000]), ("trajectory.seed", 2), ("runtime.batchnorm", "batch")):
        read_params(set_key(tiny_params, key, value))
    with pytest.raises(ParamsError, match=r"^params: 'trajectory.at' asks for epoch 5000, beyond 'train.max_epochs' = 3$"):
        reached(5000, "trajectory.at", 3)
    assert reached(3, "trajectory.at", 3) == 3 and run_seed(1, "trajectory.seed", 2) == 1
    with pytest.raises(ParamsError, match=r"^params: 'interpolate.seed' = 1 names no run: they are 0 .. 0 \('mitigation_seeds' = 1\)$"):
        run_seed(1, "interpolate.seed", 1, "mitigation_seeds")
    with pytest.raises(ParamsError, match="the gradient noise scale is undefined with 'runtime.batchnorm: batch'"):
        noise_scale_defined("batch", 8)
    noise_scale_defined("batch", 0)
    noise_scale_defined("running", 8)


def test_the_train_stages_keep_the_iterates_the_experiments_measure(tiny_params, set_key):
    set_key(tiny_params, "trajectory.at", [2, 0, 1])
    params = read_params(set_key(tiny_params, "warm_start.every", 2))
    assert params.trajectory.epochs == (0, 1, 2) and params.warm_start.sb_iterates == (0, 2)
    assert kept_epochs(params.trajectory, params.warm_start) == (1, 2)  # x0 is always kept
    assert (params.batch_of("sb"), params.batch_of("lb")) == (20, 100)


def test_each_vocabulary_is_what_its_implementation_provides():
    """params declares the names; the registries implement exactly those (a model registered under a name
    params does not know is refused at registration), and `runtime.models.<name>` holds exactly the options
    of each network that takes any."""
    assert sorted(get_args(ModelName)) == list_models()
    declared = typing.get_type_hints(Models)
    for name in list_models():
        fields = tuple(f.name for f in dataclasses.fields(declared[name])) if name in declared else ()
        assert model_options(name) == fields, name
    assert set(get_args(Ascent)) == set(ASCENTS)
    assert get_args(DataName) == ("mnist1d", *MNIST_LIKE, *CIFAR, "npz")
