"""lbgap.measures.norms against the definitions computed another way: numpy's SVD and an explicit sum
over every input-output path."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from lbgap.measures.norms import log_frobenius_product, log_spectral_product, norm_measures, path_norm


def _net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.2), nn.Linear(4, 2))


def test_the_products_of_norms_are_numpys():
    net = _net()
    weights = [net[1].weight.detach().numpy(), net[5].weight.detach().numpy()]
    assert log_spectral_product(net) == pytest.approx(sum(math.log(np.linalg.svd(w, compute_uv=False)[0]) for w in weights), rel=1e-6)
    assert log_frobenius_product(net) == pytest.approx(sum(math.log(np.sqrt((w**2).sum())) for w in weights), rel=1e-6)


def test_the_path_norm_sums_every_path():
    net = _net(1)
    w1, w2 = net[1].weight.detach().double(), net[5].weight.detach().double()
    paths = sum(float(w1[j, i] ** 2 * w2[k, j] ** 2) for i, j, k in itertools.product(range(3), range(4), range(2)))
    assert path_norm(net) == pytest.approx(math.sqrt(paths), rel=1e-12)
    assert set(norm_measures(net)) == {"log_spectral_product", "log_frobenius_product", "path_norm"}


def test_the_path_norm_refuses_what_it_does_not_define():
    with pytest.raises(ValueError, match="fully connected"):
        path_norm(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="MaxPool1d"):
        path_norm(nn.Sequential(nn.Linear(4, 4), nn.MaxPool1d(2), nn.Linear(2, 2)))
