"""lbgap.train.batchnorm: BN statistics recomputed at weights training did not produce."""

from __future__ import annotations

from pathlib import Path


import torch
from torch import nn

from lbgap.train.batchnorm import recompute_statistics
from lbgap.train.evaluation import evaluate
from lbgap.models import build_model

REPO = Path(__file__).resolve().parents[2]  # the repository root

OPTIONS = {"width": 8, "depth": 2}


def test_recomputed_statistics_average_fixed_size_chunks(tiny_data, two_solutions):
    """momentum=None: each chunk's batch mean and unbiased variance count equally (first BN layer, whose
    input does not depend on any other BN layer)."""
    small, _ = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS)
    model.load_state_dict(small)
    model.eval()
    recompute_statistics(model, tiny_data.train, chunk=32)  # 96 samples: three chunks
    assert not model.training  # mode restored
    h = tiny_data.train.x @ small["net.1.weight"].T + small["net.1.bias"]
    chunks = h.split(32)
    torch.testing.assert_close(model.net[2].running_mean, torch.stack([c.mean(0) for c in chunks]).mean(0))
    torch.testing.assert_close(model.net[2].running_var, torch.stack([c.var(0) for c in chunks]).mean(0))


def test_networks_without_running_statistics_need_no_recompute(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS, batchnorm="batch")
    before = evaluate(model, tiny_data.train, 1000).loss
    recompute_statistics(model, tiny_data.train, 32)
    assert evaluate(model, tiny_data.train, 1000).loss == before
    assert not any(isinstance(m, nn.BatchNorm1d) and m.running_mean is not None for m in model.modules())


COMMITTED = REPO / "plots/interpolation.csv"


