"""Data-parallel training: train@lb with `runtime.workers: 2` runs under torchrun (2 CPU processes, gloo) and
ends at the parameters of single-process training with ghost BN of the per-worker batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from lbgap.models import build_model
from lbgap.remedies.ghost_bn import ghost_batchnorm
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.loop import TrainConfig, train
from stages.inputs import load_data

REPO = Path(__file__).resolve().parents[2]


def _train_lb(out: Path, data: Path, params: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stages.train", "lb", "--data", str(data), "--models", str(out / "models/lb"),
         "--iterates", str(out / "models/lb_iterates"), "--metrics", str(out / "train_lb.json"),
         "--curves", str(out / "train_lb.csv"), "--params", str(params)],
        cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )


def test_two_workers_train_as_one_process_with_ghost_bn_of_half_the_batch(tmp_path, make_tiny_params, mnist1d_file):
    params = make_tiny_params()
    params["runtime"].update(workers=2)
    params["train"].update(max_epochs=3)  # batch 100 of 200 samples: 6 steps
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = _train_lb(tmp_path, mnist1d_file, path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "models/lb").iterdir()) == ["seed_0.pt", "seed_1.pt"]

    data, t = load_data(mnist1d_file), params["train"]
    config = TrainConfig(t["max_epochs"], t["patience"], t["min_delta"], t["lr"], tuple(t["betas"]), 10_000)
    new_model = lambda seed: build_model("mlp", input_shape=data.input_shape, num_classes=data.num_classes, seed=seed,
                                         options=params["runtime"]["models"]["mlp"])
    for seed in (0, 1):
        ghost = ghost_batchnorm(new_model(seed), virtual_batch=params["batch"] // 2)
        train(ghost, data, batch_size=params["batch"], config=config, seed=seed)
        parallel = Checkpoint.load(tmp_path / "models/lb", seed)
        # A bias right before BN has true gradient 0 (BN subtracts the mean): Adam scales the two paths'
        # different rounding of that 0 up to lr-sized steps, so those biases differ by O(lr) — and cannot
        # change the function. Every other parameter must agree, and so must the network's outputs.
        cancelled = _biases_before_batchnorm(ghost)
        assert cancelled == {"net.1.bias", "net.4.bias"}
        for name, weight in ghost.named_parameters():
            if name not in cancelled:
                torch.testing.assert_close(parallel.final[name], weight.detach(), rtol=1e-5, atol=1e-6)
        outputs = []
        for state in (parallel.final, ghost.state_dict()):
            model = new_model(seed)
            model.load_state_dict(state)
            with torch.no_grad():
                outputs.append(model.train()(data.train.x))  # batch statistics: the biases cancel
        torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)
        # and not by accident: one process with ordinary BN over the whole batch ends elsewhere
        whole = new_model(seed)
        train(whole, data, batch_size=params["batch"], config=config, seed=seed)
        assert (parallel.final["net.7.weight"] - whole.state_dict()["net.7.weight"]).abs().max() > 1e-4


def _biases_before_batchnorm(model: torch.nn.Module) -> set[str]:
    modules = list(model.named_modules())
    return {f"{name}.bias" for (name, module), (_, after) in zip(modules, modules[1:])
            if isinstance(module, torch.nn.Linear) and isinstance(after, torch.nn.modules.batchnorm._BatchNorm)}


def test_workers_must_split_the_batch_evenly(tmp_path, make_tiny_params, mnist1d_file):
    params = make_tiny_params()
    params.update(batch=99)
    params["runtime"].update(workers=2)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = _train_lb(tmp_path, mnist1d_file, path)
    assert result.returncode != 0 and "'batch' = 99 does not split into 2 equal worker batches" in result.stderr
    assert not (tmp_path / "models/lb").exists()


def test_sync_batchnorm_is_refused_on_the_cpu(tmp_path, make_tiny_params, mnist1d_file):
    params = make_tiny_params()
    params["runtime"].update(workers=2, sync_batchnorm=True, device="cpu")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = _train_lb(tmp_path, mnist1d_file, path)
    assert result.returncode != 0 and "'runtime.sync_batchnorm' needs CUDA" in result.stderr


def test_sync_batchnorm_without_workers_is_refused(tmp_path, make_tiny_params, mnist1d_file):
    params = make_tiny_params()
    params["runtime"].update(sync_batchnorm=True)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = _train_lb(tmp_path, mnist1d_file, path)
    assert result.returncode != 0 and "it needs 'runtime.workers' > 1" in result.stderr
