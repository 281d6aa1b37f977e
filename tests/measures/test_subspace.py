"""lbgap.measures.subspace: the random subspace operator against its dense matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lbgap.measures.sharpness import sharpness
from lbgap.measures.subspace import DenseSubspace, RandomSubspace, random_subspace


def _streamed(n: int, p: int, seed: int) -> RandomSubspace:
    """Tiny blocks (7 rows) and no cache: every product regenerates A block by block."""
    return RandomSubspace(n, p, seed, block_entries=7 * p, cache_bytes=0)


def test_streamed_and_cached_subspaces_are_the_same_matrix():
    streamed, cached = _streamed(50, 3, seed=2), RandomSubspace(50, 3, 2, block_entries=7 * 3)
    assert streamed._cache is None and cached._cache is not None
    torch.testing.assert_close(streamed.dense(), cached.dense(), rtol=0, atol=0)
    torch.testing.assert_close(streamed.dense(), streamed.dense(), rtol=0, atol=0)  # regenerated identically


def test_products_and_pseudo_inverse_match_the_dense_matrix():
    A = _streamed(61, 4, seed=0)  # 61 rows: the last block is short
    dense = A.dense().double().numpy()
    y = torch.randn(4, generator=torch.Generator().manual_seed(1))
    g = torch.randn(61, generator=torch.Generator().manual_seed(2))
    np.testing.assert_allclose(A.matvec(y).numpy(), dense @ y.double().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(A.rmatvec(g).numpy(), dense.T @ g.double().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(A.pinv_apply(g).numpy(), np.linalg.pinv(dense) @ g.double().numpy(), rtol=1e-10)


def test_random_subspace_is_reproducible_and_standard_normal():
    A = random_subspace(2000, 50, seed=5).dense()
    assert torch.equal(A, random_subspace(2000, 50, seed=5).dense())
    assert not torch.equal(A, random_subspace(2000, 50, seed=6).dense())
    assert abs(A.mean().item()) < 0.01 and abs(A.std().item() - 1) < 0.01
    blocks = _streamed(2000, 50, seed=5)
    assert not torch.equal(blocks.block(0), blocks.block(1)), "each block has its own stream"


def test_sharpness_is_the_same_with_the_operator_and_its_dense_matrix():
    x = torch.linspace(-1, 1, 40)
    h = torch.linspace(0.5, 3, 40)

    def f(w):
        d = w - x - 0.01
        return float(0.5 * (h * d * d).sum()), h * d

    A = _streamed(40, 3, seed=4)
    by_operator = sharpness(f, x, 1e-2, A, seed=1)
    by_matrix = sharpness(f, x, 1e-2, DenseSubspace(A.dense()), seed=1)
    assert by_operator.phi == pytest.approx(by_matrix.phi, rel=1e-5)
    assert by_operator.phi > 0
