"""lbgap.measures.hessian: Hessian-vector products, Lanczos, Hutchinson and SLQ against dense Hessians."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from lbgap.measures.hessian import (
    hessian_operator,
    hutchinson_trace,
    lanczos_quadrature,
    power_iteration,
    slq_density,
    smooth_density,
    top_eigenvalues,
)
from lbgap.models import build_model
from lbgap.tensors import flatten, parameters_of, unflatten


@pytest.fixture(scope="module")
def problem(blobs):
    """A trained-a-little tiny MLP in float64 (BN in eval mode), its HVP operator and dense Hessian."""
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 5, "depth": 1}).double()
    split = blobs(64, seed=0)
    split = type(split)(split.x.double(), split.y)
    model.train()
    model(split.x)  # one batch of BN statistics so eval mode is not the identity
    model.eval()
    like = parameters_of(model)
    w0 = flatten(like)

    def f(w):
        return F.cross_entropy(functional_call(model, unflatten(w, like), (split.x,)), split.y)

    dense = torch.autograd.functional.hessian(f, w0)
    matvec, n = hessian_operator(model, split, chunk=25)  # chunks that do not divide 64
    return matvec, n, dense, w0, model, split


def test_hessian_vector_products_match_the_dense_hessian(problem):
    matvec, n, dense, w0, _, _ = problem
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert n == dense.shape[0]
    torch.testing.assert_close(matvec(v), dense @ v, rtol=1e-8, atol=1e-10)


def test_one_retained_graph_gives_the_products_of_the_chunked_operator(problem):
    matvec, n, dense, w0, model, split = problem
    one_graph, _ = hessian_operator(model, split, chunk=len(split))  # built once, reused
    generator = torch.Generator().manual_seed(2)
    for _ in range(3):  # the graph survives several products
        v = torch.randn(n, dtype=torch.float64, generator=generator)
        torch.testing.assert_close(one_graph(v), dense @ v, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(one_graph(v), matvec(v), rtol=1e-10, atol=1e-12)


def test_lanczos_top_eigenvalues_match_the_dense_spectrum(problem):
    matvec, n, dense, w0, _, _ = problem
    exact = np.sort(np.linalg.eigvalsh(dense.numpy()))[::-1]
    top = top_eigenvalues(matvec, n, 3, iterations=n, seed=0, like=w0)
    np.testing.assert_allclose(top, exact[:3], rtol=1e-4)
    assert top[0] > 0


def test_power_iteration_finds_the_dominant_eigenvalue(problem):
    matvec, n, dense, w0, _, _ = problem
    eigenvalues = np.linalg.eigvalsh(dense.numpy())
    dominant = eigenvalues[np.argmax(np.abs(eigenvalues))]
    result = power_iteration(matvec, n, tol=1e-10, max_iter=5000, seed=0, like=w0)
    assert result.converged
    assert result.eigenvalue == pytest.approx(dominant, rel=1e-4)


def test_hutchinson_probes_are_exact_quadratic_forms_and_the_estimate_meets_its_tolerance(problem):
    matvec, n, dense, w0, _, _ = problem
    trace = float(torch.trace(dense))
    one = hutchinson_trace(matvec, n, tol=0.0, min_probes=1, max_probes=1, seed=3, like=w0)
    z = (torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(3)) * 2 - 1).double()
    assert one.trace == pytest.approx(float(z @ dense @ z), rel=1e-4)  # the same probe, dense
    estimate = hutchinson_trace(matvec, n, tol=0.1, min_probes=10, max_probes=1000, seed=0, like=w0)
    assert estimate.converged and estimate.standard_error <= 0.1 * abs(estimate.trace)
    assert abs(estimate.trace - trace) <= 4 * estimate.standard_error  # within 4 standard errors of tr(H)


def test_hutchinson_is_exact_for_a_diagonal_matrix():
    diagonal = torch.tensor([3.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    estimate = hutchinson_trace(lambda v: diagonal * v, 4, tol=1e-12, min_probes=2, max_probes=2, seed=0, like=diagonal)
    assert estimate.trace == pytest.approx(4.5) and estimate.standard_error == pytest.approx(0.0, abs=1e-12)


def test_lanczos_quadrature_reproduces_the_moments_of_the_start_vector(problem):
    matvec, n, dense, w0, _, _ = problem
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    m = 6
    nodes, weights = lanczos_quadrature(matvec, v, m)
    u = v / v.norm()
    for k in range(2 * m):  # Gauss quadrature with m nodes is exact up to degree 2m − 1
        exact = float(u @ torch.linalg.matrix_power(dense, k) @ u)
        assert float(weights @ nodes**k) == pytest.approx(exact, rel=1e-4, abs=1e-12)


def test_slq_density_moments_match_the_dense_spectrum(problem):
    matvec, n, dense, w0, _, _ = problem
    eigenvalues = np.linalg.eigvalsh(dense.numpy())
    # started from the n unit vectors, the pooled quadrature's k-th moment is tr(Hᵏ)/n exactly (k ≤ 2m − 1)
    units = list(torch.eye(n, dtype=torch.float64))
    density = slq_density(matvec, n, iterations=4, runs=n, seed=0, like=w0, starts=units)
    assert density.weights.sum() == pytest.approx(1.0)
    for k in range(1, 8):
        assert float(density.weights @ density.nodes**k) == pytest.approx(np.mean(eigenvalues**k), rel=1e-4)
    # random starts: every node is a Ritz value, so it lies within the spectrum
    random = slq_density(matvec, n, iterations=10, runs=3, seed=0, like=w0)
    assert random.weights.sum() == pytest.approx(1.0)
    assert random.nodes.min() >= eigenvalues.min() - 1e-8 and random.nodes.max() <= eigenvalues.max() + 1e-8
    grid = np.linspace(eigenvalues.min() - 1, eigenvalues.max() + 1, 4001)
    assert np.trapezoid(smooth_density(random, grid, width=0.05), grid) == pytest.approx(1.0, rel=1e-3)


def test_lanczos_with_a_tolerance_finds_the_top_eigenvalue_in_fewer_products_than_power(problem):
    from lbgap.measures.hessian import top_eigenvalue_lanczos

    matvec, n, dense, w0, _, _ = problem
    top = float(np.linalg.eigvalsh(dense.numpy())[-1])
    lanczos_result = top_eigenvalue_lanczos(matvec, n, tol=1e-8, max_iter=n, seed=0, like=w0)
    power_result = power_iteration(matvec, n, tol=1e-8, max_iter=5000, seed=0, like=w0)
    assert lanczos_result.eigenvalue == pytest.approx(top, rel=1e-4)
    assert lanczos_result.iterations < power_result.iterations


def test_with_batch_statistics_it_is_the_training_losss_hessian_and_the_model_is_left_alone(problem):
    _, _, eval_dense, w0, model, split = problem
    running = {k: v.clone() for k, v in model.state_dict().items()}
    matvec, n = hessian_operator(model, split, chunk=64, batch_statistics=True)  # one chunk: the whole split's statistics
    reference = copy.deepcopy(model).train()  # the loss training descends, BN on the batch's statistics
    like = parameters_of(reference)

    def f(w):
        return F.cross_entropy(functional_call(reference, unflatten(w, like), (split.x,)), split.y)

    dense = torch.autograd.functional.hessian(f, w0)
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(matvec(v), dense @ v, rtol=1e-8, atol=1e-10)
    assert not torch.allclose(dense, eval_dense)  # a different loss from the eval-mode one
    assert not model.training and all(torch.equal(model.state_dict()[k], v) for k, v in running.items())
