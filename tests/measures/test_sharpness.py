"""lbgap.measures.sharpness: Metric 2.1 against closed forms on quadratics, brute force on a convex
model, and long reference searches on a tiny network, at training losses from 1e-6 to 1e2."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lbgap.measures.sharpness import (
    PAPER_SEARCH, box_half_widths, certify, clipped_subspace_point, levelled_off, model_loss, reaches_paper_protocol, sharpness,
    sharpness_of_model,
)
from lbgap.measures.ascent import ASCENTS
from lbgap.measures.subspace import DenseSubspace, random_subspace
from lbgap.models import build_model
from lbgap.params import read_params
from lbgap.measures.maximizer import ASCENT_NAMES, Maximizer, maximizer_of
from lbgap.train.evaluation import evaluate
from lbgap.tensors import flatten, parameters_of

REPO = Path(__file__).resolve().parents[2]


def quadratic(center: torch.Tensor, curvature: torch.Tensor, offset: float):
    """f(w) = offset + ½ Σ h_i (w_i − c_i)²: minimum `offset` at c, gradient h ⊙ (w − c)."""

    def f(w: torch.Tensor):
        d = w - center
        return offset + 0.5 * float((curvature * d * d).sum()), curvature * d

    return f


def test_convex_quadratic_reaches_the_closed_form_maximum():
    # At the minimizer x = c the maximum of a separable convex quadratic over the box sits at a vertex:
    # max f = offset + ½ Σ h_i b_i² with b_i = ε(|x_i| + 1).
    x = torch.tensor([0.5, -2.0, 3.0, 0.0], dtype=torch.float64)
    h = torch.tensor([1.0, 10.0, 0.1, 4.0], dtype=torch.float64)
    eps, offset = 1e-2, 0.3
    result = sharpness(quadratic(x, h, offset), x, eps, seed=3)
    b = eps * (x.abs() + 1)
    expected_max = offset + 0.5 * float((h * b * b).sum())
    assert result.loss_max == pytest.approx(expected_max, rel=1e-9)
    assert result.phi == pytest.approx(100 * (expected_max - offset) / (1 + offset), rel=1e-9)


def test_concave_quadratic_finds_its_interior_maximum():
    # f(w) = 5 − ‖w − x − d‖² with d inside the box: max f = 5 at y = d, f(x) = 5 − ‖d‖².
    x = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    d = torch.tensor([0.01, -0.005, 0.02], dtype=torch.float64)
    f = quadratic(x + d, torch.full((3,), -2.0, dtype=torch.float64), 5.0)
    result = sharpness(f, x, eps=0.01, seed=0)
    f_x = 5.0 - float((d * d).sum())
    assert result.loss_at_x == pytest.approx(f_x)
    assert result.loss_max == pytest.approx(5.0, abs=1e-10)
    assert result.phi == pytest.approx(100 * (5.0 - f_x) / (1 + f_x), rel=1e-6)


def test_exact_minimizer_reaches_the_closed_form_maximum():
    # ∇f(x) = 0 exactly: started at y = 0 L-BFGS-B would stop at once and report φ = 0. From the random
    # start it must reach the box's vertex: max f = ½ Σ h_i ε² (x = 0, so every half-width is ε).
    x = torch.zeros(50, dtype=torch.float64)
    h = torch.linspace(0.1, 5.0, 50, dtype=torch.float64)
    f = quadratic(x, h, 0.0)
    assert torch.equal(f(x)[1], torch.zeros(50, dtype=torch.float64))
    result = sharpness(f, x, eps=1e-3, seed=0)
    expected = 0.5 * float(h.sum()) * 1e-6
    assert result.loss_max == pytest.approx(expected, rel=1e-9)
    assert result.phi == pytest.approx(100 * expected, rel=1e-9)
    assert result.iterations >= 1 and result.evaluations >= 2


def test_the_search_uses_its_whole_iteration_budget_on_flat_regions():
    """f = 10⁶ − ½ Σ hᵢ (wᵢ − dᵢ)², ill-conditioned, maximum inside the box: each step improves f by far
    less than scipy's default ftol (2.2e-9 relative), which would end the search after one iteration."""
    n = 20
    x = torch.zeros(n, dtype=torch.float64)
    d = torch.linspace(-0.5e-3, 0.5e-3, n, dtype=torch.float64)
    f = quadratic(x + d, -torch.logspace(-3, 1, n, dtype=torch.float64), 1e6)
    result = sharpness(f, x, eps=1e-3, maximizer=Maximizer(iterations=10), seed=0)
    assert result.iterations == 10, result.message
    assert result.evaluations >= 10


def test_subspace_with_identity_equals_full_space():
    x = torch.tensor([0.3, -0.7, 1.1, 2.0, -0.2], dtype=torch.float64)
    h = torch.tensor([2.0, -1.0, 0.5, 3.0, 1.0], dtype=torch.float64)  # indefinite: not just vertices
    f = quadratic(x + 0.001, h, 0.1)
    full = sharpness(f, x, eps=5e-3, seed=7)
    identity = sharpness(f, x, eps=5e-3, A=torch.eye(5, dtype=torch.float64), seed=7)
    assert identity.phi == pytest.approx(full.phi, rel=1e-12)
    assert (identity.iterations, identity.evaluations) == (full.iterations, full.evaluations)


def test_subspace_box_uses_the_pseudo_inverse():
    A = random_subspace(30, 4, seed=0)
    x = torch.randn(30, generator=torch.Generator().manual_seed(1))
    expected = 1e-3 * (np.abs(np.linalg.pinv(A.dense().double().numpy()) @ x.double().numpy()) + 1)
    np.testing.assert_allclose(box_half_widths(x, 1e-3, A), expected, rtol=1e-10)


def test_non_positive_epsilon_is_refused():
    f = quadratic(torch.zeros(2), torch.ones(2), 0.0)
    with pytest.raises(ValueError, match="epsilon"):
        sharpness(f, torch.zeros(2), eps=0.0)


def test_model_sharpness_uses_the_whole_training_set_in_eval_mode(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2})
    model.train()  # sharpness must switch to eval mode itself
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = sharpness_of_model(model, tiny_data.train, 1e-3, chunk=40, maximizer=Maximizer(iterations=5), seed=0)
    assert result.loss_at_x == pytest.approx(evaluate(model, tiny_data.train, chunk=1000).loss, rel=1e-6)
    assert result.loss_max > result.loss_at_x and result.phi > 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the model's weights must be left untouched"
    A = random_subspace(flatten(parameters_of(model)).numel(), 3, seed=0)
    sub = sharpness_of_model(model, tiny_data.train, 1e-3, A, chunk=1000, maximizer=Maximizer(iterations=5), seed=0)
    assert 0 < sub.phi


def test_a_shared_loss_at_x_changes_nothing_but_the_evaluation_count(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2})
    alone = sharpness_of_model(model, tiny_data.train, 1e-3, chunk=40, maximizer=Maximizer(iterations=5), seed=0)
    shared = sharpness_of_model(model, tiny_data.train, 1e-3, chunk=40, maximizer=Maximizer(iterations=5), seed=0, loss_at_x=model_loss(model, tiny_data.train, 40))
    assert shared == alone  # every field, bit for bit


def test_a_given_loss_at_x_is_not_evaluated_again():
    f = quadratic(torch.zeros(3), torch.ones(3), 0.5)
    calls = []
    result = sharpness(lambda w: (calls.append(1), f(w))[1], torch.zeros(3), 0.1, maximizer=Maximizer(iterations=3), seed=0, loss_at_x=0.5)
    assert len(calls) == result.evaluations  # only L-BFGS-B's own evaluations
    assert result.loss_at_x == 0.5 and result.phi > 0


def test_adaptive_box_with_eta_zero_on_a_quadratic_has_the_closed_form_maximum():
    # f(w) = ½ Σ cᵢ wᵢ²: on the box |δᵢ| ≤ ε|wᵢ| the maximum sits at the corner δ = ε·w, where
    # f = ½ Σ cᵢ (1 + ε)² wᵢ²; φ = 100 (f_max − f) / (1 + f)
    c = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64)
    x = torch.tensor([0.3, -0.2, 0.0], dtype=torch.float64)  # a zero coordinate gets a zero-width side

    def f(w):
        return float(0.5 * (c * w * w).sum()), c * w

    eps = 0.1
    f_x = 0.5 * float((c * x * x).sum())
    expected = 100 * (0.5 * float((c * x * x).sum()) * (1 + eps) ** 2 - f_x) / (1 + f_x)
    assert sharpness(f, x, eps, offset=0.0, maximizer=Maximizer(iterations=50)).phi == pytest.approx(expected, rel=1e-6)




def test_a_diverged_solution_is_not_measured():
    """Non-finite weights (a run whose loss overflowed) give φ = nan instead of an error from the box."""
    x = torch.tensor([1.0, float("nan"), 2.0])
    result = sharpness(lambda w: (float((w**2).sum()), 2 * w), x, 1e-3)
    assert math.isnan(result.phi) and result.evaluations == 0 and "non-finite" in result.message


# ---- the validated maximizer against known maxima, at training losses from 1e-6 to 1e2 --------------

LOSS_SCALES = [1e-6, 1e-4, 1e-2, 1.0, 1e2]
COMMITTED = read_params(yaml.safe_load((REPO / "params.yaml").read_text())).sharpness  # the committed defaults
VALIDATED = maximizer_of(COMMITTED, paper_protocol=True)  # as stages sharpness@sb/lb search
# as the sweep, warm start, trajectory and remedies search (no paper protocol beside): each test below holds for both
MAXIMIZERS = pytest.mark.parametrize("maximizer", [VALIDATED, maximizer_of(COMMITTED)], ids=["sb_lb_stages", "other_stages"])


def test_the_committed_defaults_are_a_validated_maximizer_that_contains_the_paper_protocol():
    assert COMMITTED.method == "validated" and VALIDATED.includes_paper_protocol and VALIDATED.starts >= 1


def _gain(result, loss_max: float) -> float:
    """The fraction of the ascent from f(x) to the true maximum that the search found."""
    return (result.loss_max - result.loss_at_x) / (loss_max - result.loss_at_x)


@pytest.mark.parametrize("scale", LOSS_SCALES)
def test_on_a_bowl_at_any_loss_scale_the_validated_maximizer_finds_the_vertex_and_the_paper_falls_short(scale):
    """f = scale · (10⁻³ + ½ Σ hᵢ (wᵢ − xᵢ)²), 2000 coordinates: max at a vertex of the box, in closed form.
    The scale does not move the maximizer, only the size of the gradient. (One sign step from anywhere
    reaches this vertex, so the bowl tests the paper protocol's dependence on scale, not Auto-PGD; the
    convex model and the tiny network below are harder.)"""
    n = 2000
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    h = 10 * torch.rand(n, generator=generator, dtype=torch.float64)
    f = lambda w: (scale * (1e-3 + 0.5 * float((h * (w - x) ** 2).sum())), scale * h * (w - x))  # noqa: E731
    b = 1e-3 * (x.abs() + 1)
    loss_max = scale * (1e-3 + 0.5 * float((h * b * b).sum()))
    validated = sharpness(f, x, 1e-3, maximizer=VALIDATED, seed=0)
    assert _gain(validated, loss_max) >= 0.99
    paper = sharpness(f, x, 1e-3, seed=0)
    assert paper.phi == pytest.approx(validated.paper_protocol_phi, rel=1e-12)  # the paper's protocol is one of its searches
    assert validated.phi >= paper.phi
    if scale <= 1e-2:  # the paper protocol's reach scales with the gradient
        assert _gain(paper, loss_max) < 0.7
    else:
        assert _gain(paper, loss_max) >= 0.99


def scaled_to_loss(f, point, target: float, limit: float) -> torch.Tensor:
    """point(t) where f = `target`, by bisection on the output scale t ∈ [−limit, limit] of a 3-class model:
    f falls as t > 0 grows (confidently right), is log 3 at t = 0 and rises as t → −∞ (confidently wrong)."""
    low, high = (0.0, limit) if target < math.log(3) else (-limit, 0.0)
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if f(point(middle))[0] > target else (low, middle)
    return point((low + high) / 2)


def solution_at(model, target: float) -> tuple[torch.Tensor, float]:
    """`model.at_loss(target)` and f there, which must be the target."""
    x = model.at_loss(target)
    loss_at_x = model(x)[0]
    assert loss_at_x == pytest.approx(target, rel=1e-3)
    return x, loss_at_x


class SoftmaxRegression:
    """Softmax regression, 3 features → 3 classes with biases (12 weights), on 24 points, f = mean
    cross-entropy. f is convex in the weights (log-sum-exp of affine maps minus an affine map), so its
    maximum over a box lies at one of the 2¹² = 4096 vertices: brute force gives it exactly.
    `at_loss(target)` scales separating weights until f = target (negative scales: confidently wrong)."""

    def __init__(self, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.X = torch.randn(24, 3, generator=generator, dtype=torch.float64)
        self.W = torch.randn(3, 3, generator=generator, dtype=torch.float64)
        self.y = (self.X @ self.W.T).argmax(1)

    def losses(self, w: torch.Tensor) -> torch.Tensor:
        """f at each row of w (k, 12) → (k,)."""
        logits = torch.einsum("kcd,nd->knc", w[:, :9].reshape(-1, 3, 3), self.X) + w[:, None, 9:]
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 3), self.y.repeat(len(w)), reduction="none").reshape(len(w), -1).mean(1)

    def __call__(self, w: torch.Tensor) -> tuple[float, torch.Tensor]:
        w = w.detach().clone().requires_grad_(True)
        loss = self.losses(w[None])[0]
        (grad,) = torch.autograd.grad(loss, w)
        return float(loss.detach()), grad

    def at_loss(self, target: float) -> torch.Tensor:
        return scaled_to_loss(self, lambda t: torch.cat([t * self.W.flatten(), torch.zeros(3, dtype=torch.float64)]), target, 1e6)

    def brute_force_maximum(self, x: torch.Tensor, eps: float) -> float:
        half = eps * (x.abs() + 1)
        signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=12)), dtype=torch.float64)
        return float(self.losses(x + signs * half).max())


@MAXIMIZERS
@pytest.mark.parametrize("target", LOSS_SCALES)
def test_on_a_convex_model_at_any_loss_the_validated_maximizer_finds_the_brute_force_maximum(target, maximizer):
    model = SoftmaxRegression()
    x, loss_at_x = solution_at(model, target)
    validated = sharpness(model, x, 1e-3, maximizer=maximizer, seed=0, loss_at_x=loss_at_x)
    assert _gain(validated, model.brute_force_maximum(x, 1e-3)) >= 0.99


class TinyNet:
    """A 5 → 16 → 3 ReLU network on 64 points in float64 numpy with hand-written backpropagation (fast
    enough for long reference searches), f = mean cross-entropy. `at_loss(target)` scales the output
    layer (the network is positively homogeneous in it) until f = target: losses from 1e-6 (confident
    and right) to 1e2 (confident and wrong) at the same decision boundaries."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.X = rng.normal(size=(64, 5))
        self.W1, self.W2 = rng.normal(size=(16, 5)) / 5**0.5, rng.normal(size=(3, 16)) / 4
        self.y = np.argmax(np.maximum(self.X @ self.W1.T, 0) @ self.W2.T, axis=1)
        self.n = 16 * 5 + 16 + 3 * 16 + 3

    def unpack(self, w: np.ndarray):
        return w[:80].reshape(16, 5), w[80:96], w[96:144].reshape(3, 16), w[144:]

    def __call__(self, w: torch.Tensor) -> tuple[float, torch.Tensor]:
        W1, b1, W2, b2 = self.unpack(w.numpy())
        pre = self.X @ W1.T + b1
        hidden = np.maximum(pre, 0)
        logits = hidden @ W2.T + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(len(self.y))
        loss = -log_p[rows, self.y].mean()
        d_logits = np.exp(log_p)
        d_logits[rows, self.y] -= 1
        d_logits /= len(self.y)
        d_hidden = (d_logits @ W2) * (pre > 0)
        grad = np.concatenate([(d_hidden.T @ self.X).ravel(), d_hidden.sum(0), (d_logits.T @ hidden).ravel(), d_logits.sum(0)])
        return float(loss), torch.from_numpy(grad)

    def at_loss(self, target: float) -> torch.Tensor:
        def point(t: float) -> torch.Tensor:
            return torch.from_numpy(np.concatenate([self.W1.ravel(), np.zeros(16), t * self.W2.ravel(), np.zeros(3)]))

        return scaled_to_loss(self, point, target, 1e7)


def test_the_tiny_network_has_the_gradient_of_its_loss():
    net = TinyNet()
    w = net.at_loss(0.5) + 0.01 * torch.randn(net.n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    _, grad = net(w)
    direction = torch.randn(net.n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    step = 1e-6
    numeric = (net(w + step * direction)[0] - net(w - step * direction)[0]) / (2 * step)
    assert float(grad @ direction) == pytest.approx(numeric, rel=1e-5)


@MAXIMIZERS
@pytest.mark.parametrize("target", LOSS_SCALES)
def test_on_a_tiny_network_at_any_loss_the_validated_maximizer_matches_a_long_reference_search(target, maximizer):
    net = TinyNet()
    x, loss_at_x = solution_at(net, target)
    # the reference: every ascent from 4 other starts, 200 iterations each — 20 times the default budget
    reference = sharpness(net, x, 1e-3, maximizer=Maximizer(ASCENT_NAMES, starts=4, iterations=200), seed=1, loss_at_x=loss_at_x)
    validated = sharpness(net, x, 1e-3, maximizer=maximizer, seed=0, loss_at_x=loss_at_x)
    assert _gain(validated, reference.loss_max) >= 0.99, validated.ascent_histories


def test_the_paper_protocol_falls_short_on_the_tiny_network_at_small_losses_only():
    """Here the shortfall is milder than on the bowl (the network has 147 coordinates, not 2000), but it
    is there at small losses and gone at large ones."""
    net = TinyNet()
    reached = {}
    for target in (1e-4, 1e-2, 1.0):
        x = net.at_loss(target)
        reference = sharpness(net, x, 1e-3, maximizer=Maximizer(ASCENT_NAMES, starts=4, iterations=200), seed=1)
        reached[target] = _gain(sharpness(net, x, 1e-3, seed=0), reference.loss_max)
    assert reached[1e-4] < 0.97 and reached[1e-2] < 0.97 and reached[1.0] > 0.999, reached


# ---- the certificate --------------------------------------------------------------------------------


def test_a_search_still_climbing_is_not_levelled_off():
    assert not levelled_off([1.0, 2.0, 3.0, 4.0, 5.0], 1.0, 0.01)
    assert levelled_off([1.0, 4.0, 4.99, 5.0, 5.0], 1.0, 0.01)
    assert levelled_off([1.0, 1.0, 1.0], 1.0, 0.01)  # nothing found and nothing rising: a flat point


def test_the_paper_protocol_creeping_at_a_tiny_loss_is_flagged_at_a_strict_plateau_only():
    """The bowl at scale 1e-6: L-BFGS-B's steps are ~‖∇f‖ long, so its best f still rises at the end, by
    about 3 % of its gain over the second half: flagged at plateau 0.01, not at the default 0.05 —
    while it has found only a third of the maximum. Levelling off is necessary, not sufficient; the
    validated maximizer's other ascent is what finds the vertex."""
    n = 2000
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    h = 10 * torch.rand(n, generator=generator, dtype=torch.float64)
    f = lambda w: (1e-6 * (1e-3 + 0.5 * float((h * (w - x) ** 2).sum())), 1e-6 * h * (w - x))  # noqa: E731
    assert not sharpness(f, x, 1e-3, maximizer=Maximizer(plateau=0.01), seed=0).levelled_off
    creeping = sharpness(f, x, 1e-3, seed=0)
    assert creeping.levelled_off and creeping.phi < 0.4 * 100 * 0.5e-6 * float((h * (1e-3 * (x.abs() + 1)) ** 2).sum())
    assert sharpness(f, x, 1e-3, maximizer=VALIDATED, seed=0).levelled_off


def test_the_clipped_subspace_point_is_a_feasible_full_space_point():
    """With A = I it is the subspace maximizer itself where that lies in the full box, clipped elsewhere;
    with a random A, A y clipped coordinate by coordinate to ±ε(|x_i| + 1)."""
    x = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)
    y = np.array([1e-3, -1e-3, 5e-3, 0.0])  # the full box: ±(1.5, 2, 3, 1)·1e-3; only the third side clips
    point = clipped_subspace_point(x, 1e-3, DenseSubspace(torch.eye(4, dtype=torch.float64)), y)
    assert torch.allclose(point, x + torch.tensor([1e-3, -1e-3, 3e-3, 0.0], dtype=torch.float64), rtol=0, atol=1e-15)
    A = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = np.array([0.02, -0.01])
    half = 1e-3 * (x.abs() + 1)
    expected = x + torch.clamp(A @ torch.from_numpy(z), -half, half)
    assert torch.allclose(clipped_subspace_point(x, 1e-3, DenseSubspace(A), z), expected, rtol=0, atol=1e-15)


def test_the_certificate_fails_below_the_clipped_bound_or_while_rising():
    f = quadratic(torch.zeros(4, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64), 0.1)
    result = sharpness(f, torch.zeros(4, dtype=torch.float64), 1e-2, maximizer=VALIDATED, seed=0)
    assert result.levelled_off and certify(result, result.loss_max) and certify(result, result.loss_max * (1 + 1e-7))
    assert not certify(result, result.loss_max * (1 + 1e-4))  # a feasible point above the "maximum"
    rising = dataclasses.replace(result, levelled_off=False)
    assert not certify(rising, result.loss_at_x)


def test_the_record_is_json_and_names_the_winner():
    f = quadratic(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 0.5)
    result = sharpness(f, torch.zeros(3, dtype=torch.float64), 0.1, maximizer=VALIDATED, seed=0)
    record = json.loads(json.dumps(result.record()))
    assert "argmax" not in record and record["found_by"] in record["ascent_histories"]
    assert record["loss_max"] == max(history[-1] for history in record["ascent_histories"].values())
    assert len(record["history"]) == VALIDATED.iterations + 1


def test_the_paper_protocol_beside_the_ascents_is_reported_not_part_of_phi_and_checks_it():
    """With `paper_protocol`, the paper's search runs from the same start as its own search: its φ is
    reported, its evaluations counted, its history kept under PAPER_SEARCH, but φ, found_by, the combined
    history and the levelled-off check come from the ascents alone; a φ below it fails the certificate.
    An L-BFGS-B ascent shorter than the paper's 10 iterations does not stand in for it."""
    n = 200
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    h = 10 * torch.rand(n, generator=generator, dtype=torch.float64)
    f = lambda w: (1e-3 + 0.5 * float((h * (w - x) ** 2).sum()), h * (w - x))  # noqa: E731
    paper = sharpness(f, x, 1e-3, seed=0)
    beside = sharpness(f, x, 1e-3, maximizer=Maximizer(("apgd",), 1, 20, paper_protocol=True), seed=0)
    alone = sharpness(f, x, 1e-3, maximizer=Maximizer(("apgd",), 1, 20), seed=0)
    assert beside.paper_protocol_phi == pytest.approx(paper.phi, rel=1e-12) and alone.paper_protocol_phi is None
    assert (beside.phi, beside.found_by, beside.history, beside.levelled_off) == (alone.phi, alone.found_by, alone.history, alone.levelled_off)
    assert beside.evaluations == alone.evaluations + paper.evaluations and beside.ascent_histories[PAPER_SEARCH] == paper.ascent_histories["lbfgsb#0"]
    assert reaches_paper_protocol(beside) and reaches_paper_protocol(alone)
    below = dataclasses.replace(beside, phi=0.5 * beside.paper_protocol_phi)
    assert not reaches_paper_protocol(below) and not certify(below, clipped_subspace_loss=0.0)
    short = Maximizer(("lbfgsb",), 1, 5, paper_protocol=True)
    assert short.extra_paper_search and not Maximizer(("lbfgsb",), 1, 10, paper_protocol=True).extra_paper_search
    assert sharpness(f, x, 1e-3, maximizer=short, seed=0).paper_protocol_phi == pytest.approx(paper.phi, rel=1e-12)


# ---- rounds: a search that has not levelled off continues from its best point ---------------------------


def test_a_search_not_levelled_off_continues_from_its_best_point_until_it_is():
    """Three Auto-PGD steps on the tiny network at ε = 0.05 are still climbing (flagged, 80 % of a long
    reference search); in rounds from the best point the same search levels off at the third round,
    within 1 % of the reference, and spends no round more."""
    net = TinyNet()
    x = net.at_loss(1e-4)
    reference = sharpness(net, x, 0.05, maximizer=Maximizer(ASCENT_NAMES, starts=4, iterations=200), seed=1)
    one = sharpness(net, x, 0.05, maximizer=Maximizer(("apgd",), 1, 3, max_rounds=1), seed=0)
    rounds = sharpness(net, x, 0.05, maximizer=Maximizer(("apgd",), 1, 3, max_rounds=16), seed=0)
    assert not one.levelled_off and _gain(one, reference.loss_max) < 0.9
    assert rounds.levelled_off and _gain(rounds, reference.loss_max) >= 0.99
    assert rounds.history[:4] == one.history  # the first round is the one-round search
    assert rounds.iterations == 9 and rounds.evaluations == 3 * (1 + 3) and "(3 rounds of 3" in rounds.message
    assert rounds.ascent_histories["apgd#0"] == list(rounds.history)
    assert all(b >= a for a, b in zip(rounds.history, rounds.history[1:]))


def test_rounds_raise_a_creeping_search_but_do_not_certify_it():
    """The paper's L-BFGS-B on the bowl at scale 1e-3 creeps: every round finds more, none levels off
    (plateau 0.01), so after the last round it is still flagged — rounds cannot make a failing search pass."""
    n = 2000
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    h = 10 * torch.rand(n, generator=generator, dtype=torch.float64)
    f = lambda w: (1e-3 * (1e-3 + 0.5 * float((h * (w - x) ** 2).sum())), 1e-3 * h * (w - x))  # noqa: E731
    found = {rounds: sharpness(f, x, 1e-3, maximizer=Maximizer(plateau=0.01, max_rounds=rounds), seed=0) for rounds in (1, 4)}
    assert found[4].phi > 1.2 * found[1].phi and found[4].iterations == 40
    assert not found[1].levelled_off and not found[4].levelled_off
    assert found[4].paper_protocol_phi == found[1].paper_protocol_phi  # read off the first 10 iterations


def test_an_ascent_that_stops_early_holds_its_best_so_rounds_and_the_paper_protocol_line_up(monkeypatch):
    """L-BFGS-B whose line search fails after 4 of its 10 iterations, every round (here: a wrapper that stops
    it there), on the creeping bowl: each round starts at index 10·k of its record, the iterations it did not
    run hold its best f, and the paper's protocol is the first round's value, not a later round's."""
    n = 2000
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    h = 10 * torch.rand(n, generator=generator, dtype=torch.float64)
    f = lambda w: (1e-3 * (1e-3 + 0.5 * float((h * (w - x) ** 2).sum())), 1e-3 * h * (w - x))  # noqa: E731
    real = ASCENTS["lbfgsb"]
    monkeypatch.setitem(ASCENTS, "lbfgsb", lambda objective, half, y0, iterations: real(objective, half, y0, min(iterations, 4)))
    found = sharpness(f, x, 1e-3, maximizer=Maximizer(plateau=0.01, max_rounds=3), seed=0)
    record = found.ascent_histories["lbfgsb#0"]
    assert "(3 rounds of 10" in found.message and len(record) == 2 * 10 + 4 + 1  # the last round is not padded
    assert record[4:11] == [record[4]] * 7 and record[14:21] == [record[14]] * 7  # held over the iterations not run
    assert record[4] < record[14] < record[-1]  # each round found more, from the best point
    assert found.paper_protocol_phi == pytest.approx(100 * (record[4] - found.loss_at_x) / (1 + found.loss_at_x), rel=1e-12)


def test_the_subspace_runs_its_own_ascents_and_the_full_space_its_own():
    """`subspace_ascents` replace `ascents` in a random subspace only; with L-BFGS-B among them for 10 or
    more iterations the paper's protocol is read off that search, not run again."""
    net = TinyNet()
    x = net.at_loss(1e-2)
    A = torch.randn(net.n, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    both = Maximizer(("apgd",), 1, 20, subspace_ascents=("apgd", "lbfgsb"), paper_protocol=True)
    full, subspace = sharpness(net, x, 1e-3, maximizer=both, seed=0), sharpness(net, x, 1e-3, A, maximizer=both, seed=0)
    assert set(full.ascent_histories) == {"apgd#0", PAPER_SEARCH} and set(subspace.ascent_histories) == {"apgd#0", "lbfgsb#0"}
    alone = sharpness(net, x, 1e-3, A, seed=0)  # the paper's protocol in the same subspace
    assert subspace.paper_protocol_phi == pytest.approx(alone.phi, rel=1e-12) and subspace.phi >= alone.phi
    assert both.in_subspace() == Maximizer(("apgd", "lbfgsb"), 1, 20, paper_protocol=True)
    assert Maximizer(("apgd",)).in_subspace() == Maximizer(("apgd",))
    assert maximizer_of(COMMITTED).subspace_ascents is None  # stages measuring the full space only do not read the key
    assert maximizer_of(COMMITTED, subspace=True).subspace_ascents == tuple(COMMITTED.subspace_ascents)


@pytest.mark.parametrize("target", LOSS_SCALES)
def test_in_a_random_subspace_at_any_loss_the_validated_maximizer_matches_a_long_reference_search(target):
    """A 10-column A at ε = 1e-4: φ from 0.03 to 4,400 over the loss scales. (At ε = 1e-3 the output layer
    scaled for the smallest losses makes the subspace box so large that f reaches 10³ in it; there one start
    finds about half of what 4 starts × 200 iterations find, and nothing in the certificate shows it —
    docs/measures.md states this limit.)"""
    net = TinyNet()
    x, loss_at_x = solution_at(net, target)
    A = torch.randn(net.n, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    reference = sharpness(net, x, 1e-4, A, maximizer=Maximizer(ASCENT_NAMES, starts=4, iterations=200), seed=1, loss_at_x=loss_at_x)
    validated = sharpness(net, x, 1e-4, A, maximizer=maximizer_of(COMMITTED, paper_protocol=True, subspace=True), seed=0, loss_at_x=loss_at_x)
    assert _gain(validated, reference.loss_max) >= 0.99, validated.ascent_histories
    assert validated.phi >= validated.paper_protocol_phi
