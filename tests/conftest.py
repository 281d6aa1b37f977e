"""Shared fixtures: tiny data, tiny networks and tiny params, so the whole suite runs in minutes."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lbgap.data import DataSet, Split, make_data_set, to_arrays

REPO = Path(__file__).resolve().parents[1]


def blobs(n: int, seed: int, features: int = 6, classes: int = 3) -> Split:
    """Gaussian blobs around fixed class centres: easy to fit, so short training gets somewhere."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(1234)) * 2
    y = torch.randint(0, classes, (n,), generator=generator)
    x = centres[y] + torch.randn(n, features, generator=generator)
    return Split(x, y)


@pytest.fixture
def tiny_data() -> DataSet:
    return DataSet(blobs(96, seed=0), blobs(48, seed=1))


def tiny_params() -> dict:
    """The repository's params.yaml shrunk to seconds: 300 mnist1d samples, a 16-unit net, 2 seeds."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params = copy.deepcopy(params)
    params.update(seeds=2, batch=100, small_batch=20)
    params["data"].update(num_train=200, num_test=100)
    params["runtime"]["models"]["mlp"].update(width=16, depth=2)
    params["train"].update(max_epochs=3)
    params["sharpness"].update(subspace_dim=4, max_iter=3)
    params["interpolate"].update(points=5)
    params.update(mitigation_seeds=1)
    params["sweep"].update(batches=[20, 100], epochs=2, seeds=2)
    params["warm_start"].update(sb_epochs=2, every=1, lb_epochs=1)
    params["trajectory"].update(at=[0, 1, 2])
    params["curvature"].update(
        samples=100, lanczos={"top_k": 2, "steps": 5}, trace={"tol": 0.05, "max_probes": 4},
        density={"runs": 1, "steps": 5}, epsilons=[0.001, 0.01],
        pac_bayes={"max_drop": 0.1, "draws": 1, "steps": 4, "epsilon": 0.001},
        noise_scale={"small": 4, "big": 32, "batches": 2},
    )
    params["surface"].update(points=3)
    return params


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def mnist1d_file(tmp_path_factory) -> Path:
    """The tiny data set as the prepare stage would write it."""
    path = tmp_path_factory.mktemp("data") / "dataset.npz"
    p = tiny_params()["data"]
    np.savez(path, **to_arrays(make_data_set("mnist1d", num_train=p["num_train"], num_test=p["num_test"], seed=p["seed"])))
    return path
