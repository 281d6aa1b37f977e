"""stages.inputs and stages.params: the one prologue of every stage — params, data, network, checkpoints,
each refused with one clear line."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from lbgap.params import ParamsError
from lbgap.params.sections import Runtime
from lbgap.train.checkpoint import Checkpoint
from stages.inputs import load_inputs
from stages.params import InputError, load_params
from stages.processes import threads_for


@pytest.fixture
def runtime(params_file) -> Runtime:
    return load_params(params_file).runtime


def test_inputs_are_the_data_the_network_and_the_asked_checkpoints(runtime, mnist1d_file, tmp_path):
    inputs = load_inputs(runtime, mnist1d_file)
    assert len(inputs.data.train) == 200 and inputs.device.type == "cpu" and inputs.checkpoints == {}
    assert inputs.model.state_dict().keys() == inputs.new_model(3).state_dict().keys()
    for seed in (0, 1):
        state = inputs.new_model(seed).state_dict()
        Checkpoint(state, state, batch_size=20, seed=seed).save(tmp_path)
    loaded = load_inputs(runtime, mnist1d_file, checkpoints={"all": (tmp_path, None), "one": (tmp_path, 1)}).checkpoints
    assert [c.seed for c in loaded["all"]] == [0, 1] and [c.seed for c in loaded["one"]] == [1]


def test_a_batch_larger_than_the_training_set_is_refused_naming_its_key(runtime, mnist1d_file):
    with pytest.raises(ParamsError, match="'batch' = 201 exceeds the 200 training samples"):
        load_inputs(runtime, mnist1d_file, batches={"small_batch": 200, "batch": 201})


def test_missing_checkpoints_and_bad_params_files_are_input_errors(runtime, mnist1d_file, tmp_path):
    with pytest.raises(InputError, match="no checkpoints seed_<k>.pt in"):
        load_inputs(runtime, mnist1d_file, checkpoints={"runs": (tmp_path, None)})
    with pytest.raises(InputError, match="checkpoint not found"):
        load_inputs(runtime, mnist1d_file, checkpoints={"runs": (tmp_path, 0)})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(InputError, match="must hold a mapping of parameters"):
        load_params(tmp_path / "params.yaml")


def test_runtime_threads_sets_torchs_threads_and_null_divides_the_cores_among_local_workers(runtime, mnist1d_file, monkeypatch):
    before = torch.get_num_threads()
    try:
        load_inputs(dataclasses.replace(runtime, threads=1), mnist1d_file)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert threads_for(runtime) is None  # one process: torch's default (OMP_NUM_THREADS, else the cores)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert threads_for(runtime) == 4 and threads_for(dataclasses.replace(runtime, threads=3)) == 3
