"""lbgap.params.core (through lbgap.params.read): the shared sections; every bad value is refused with one
clear line naming the key, and nothing has a default outside params.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lbgap.params import ParamsError
from lbgap.params.core import DataParams, RuntimeParams, TrainParams, optimizer_config, train_config

REPO = Path(__file__).resolve().parents[2]  # the repository root

BAD = [
    (TrainParams, "batch", 0, "'batch' must be an integer >= 1"),
    (TrainParams, "batch", -5, "'batch' must be an integer >= 1"),
    (TrainParams, "batch", 50.5, "'batch' must be an integer"),
    (TrainParams, "batch", "large", "'batch' must be an integer"),
    (TrainParams, "batch", True, "'batch' must be an integer"),
    (TrainParams, "small_batch", 0, "'small_batch' must be an integer >= 1"),
    (TrainParams, "seeds", 0, "'seeds' must be an integer >= 1"),
    (TrainParams, "runtime.model", "resnet9", "unknown model 'runtime.model: resnet9'; known: C1, C2"),
    (TrainParams, "runtime.eval_chunk", 0, "'runtime.eval_chunk' must be an integer >= 1"),
    (TrainParams, "runtime.amp", "yes", "'runtime.amp' must be true or false"),
    (TrainParams, "train.lr", 0, "'train.lr' must be > 0"),
    (TrainParams, "train.max_epochs", 0, "'train.max_epochs' must be an integer >= 1"),
    (TrainParams, "train.betas", [0.9], "'train.betas' must be two numbers"),
    (DataParams, "data.name", "cifar7", "unknown data set 'data.name: cifar7'; known: mnist1d"),
    (DataParams, "data.standardize", "no", "'data.standardize' must be true or false"),
]


@pytest.mark.parametrize(("kind", "key", "value", "message"), BAD)
def test_bad_params_are_refused_with_a_clear_message(kind, key, value, message, tiny_params, set_key):
    params = set_key(tiny_params, key, value)
    with pytest.raises(ParamsError) as error:
        kind.parse(params, "lb" if key == "batch" else "sb") if kind is TrainParams else kind.parse(params)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("key", ["train.patience", "runtime.device", "data.download", "runtime.eval_chunk", "runtime.models.mlp.depth"])
def test_a_missing_key_is_named_not_defaulted(key, tiny_params):
    *parents, last = key.split(".")
    node = tiny_params
    for part in parents:
        node = node[part]
    del node[last]
    with pytest.raises(ParamsError, match=f"missing key '{key}'"):
        TrainParams.parse(tiny_params, "sb") if not key.startswith("data") else DataParams.parse(tiny_params)


def test_regimes_read_their_own_batch_key_and_refuse_others(tiny_params):
    assert (TrainParams.parse(tiny_params, "sb").batch_key, TrainParams.parse(tiny_params, "sb").batch_size) == ("small_batch", 20)
    assert (TrainParams.parse(tiny_params, "lb").batch_key, TrainParams.parse(tiny_params, "lb").batch_size) == ("batch", 100)
    with pytest.raises(ParamsError, match="unknown regime 'mb'"):
        TrainParams.parse(tiny_params, "mb")


def test_the_runtime_section_chooses_the_network_and_its_options(tiny_params, set_key):
    runtime = RuntimeParams.parse(tiny_params)
    assert (runtime.model, runtime.options) == ("mlp", {"width": 16, "depth": 2})
    assert RuntimeParams.parse(set_key(tiny_params, "runtime.model", "F1")).options == {}  # no entry: no options
    del tiny_params["runtime"]["models"]["mlp"]
    with pytest.raises(ParamsError, match="missing key 'runtime.models.mlp.width' \\(network 'mlp' takes width, depth\\)"):
        RuntimeParams.parse(set_key(tiny_params, "runtime.model", "mlp"))  # the builder's own defaults are not used


def test_the_fixed_budget_view_reads_only_adam_and_the_chunk(tiny_params):
    del tiny_params["train"]["max_epochs"], tiny_params["train"]["patience"], tiny_params["train"]["min_delta"]
    config = optimizer_config(tiny_params)
    assert (config.lr, config.betas, config.eval_chunk) == (0.001, (0.9, 0.999), 10000)
    with pytest.raises(ParamsError, match="missing key 'train.max_epochs'"):
        train_config(tiny_params)


def test_the_committed_params_parse():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert TrainParams.parse(raw, "lb").batch_size == raw["batch"]
    assert DataParams.parse(raw).name == "mnist1d"
