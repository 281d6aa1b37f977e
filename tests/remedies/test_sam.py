"""lbgap.remedies.sam: SAM and ASAM steps against hand-computed updates."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from lbgap.remedies.sam import (
    sam_step,
)
from lbgap.train.recipe import plain_step


def test_sam_with_zero_rho_is_the_base_optimizer_step(model_pair, assert_same_state):
    for adaptive in (False, True):
        (m1, m2), (o1, o2), x, y = model_pair()
        for _ in range(3):
            plain_step(m1, o1, x, y)
            sam_step(rho=0.0, adaptive=adaptive)(m2, o2, x, y)
        assert_same_state(m1, m2)  # BatchNorm running statistics included: the second pass is frozen


def test_sam_takes_the_gradient_at_the_perturbed_point(model_pair):
    (m1, m2), _, x, y = model_pair()
    sgd = [torch.optim.SGD(m.parameters(), lr=1.0) for m in (m1, m2)]
    before = [p.detach().clone() for p in m2.parameters()]
    rho = 0.05
    # Reference by hand: g at w, ε = ρ g/‖g‖, gradient at w + ε (BN in train mode), step from w.
    loss = F.cross_entropy(m1(x), y)
    grads = torch.autograd.grad(loss, list(m1.parameters()))
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(m1.parameters(), grads):
            p.add_(rho * g / norm)
    perturbed = torch.autograd.grad(F.cross_entropy(m1(x), y), list(m1.parameters()))
    sam_step(rho=rho)(m2, sgd[1], x, y)
    for p, w, g in zip(m2.parameters(), before, perturbed):
        torch.testing.assert_close(p, w - g, rtol=1e-5, atol=1e-6)


def test_asam_takes_the_gradient_at_the_scaled_perturbation(model_pair):
    """ASAM by hand (Kwon et al.): T = |w| + η on weight matrices, 1 on biases and BN parameters;
    ε = ρ T²g / ‖T g‖; the gradient at w + ε is applied at w."""
    (m1, m2), _, x, y = model_pair(seed=3)
    sgd = torch.optim.SGD(m2.parameters(), lr=1.0)
    before = [p.detach().clone() for p in m2.parameters()]
    rho, eta = 0.5, 0.01
    params = list(m1.parameters())
    grads = torch.autograd.grad(F.cross_entropy(m1(x), y), params)
    scales = [(p.detach().abs() + eta) if p.dim() > 1 else torch.ones_like(p) for p in params]
    norm = torch.sqrt(sum(((t * g) ** 2).sum() for t, g in zip(scales, grads)))
    with torch.no_grad():
        for p, t, g in zip(params, scales, grads):
            p.add_(rho * t * t * g / norm)
    perturbed = torch.autograd.grad(F.cross_entropy(m1(x), y), params)
    sam_step(rho=rho, adaptive=True, eta=eta)(m2, sgd, x, y)
    moved = 0.0
    for p, w, g in zip(m2.parameters(), before, perturbed):
        torch.testing.assert_close(p, w - g, rtol=1e-5, atol=1e-6)
        moved += float(((p.detach() - w) ** 2).sum())
    assert moved > 0
    # and it is not plain SAM: the same ρ without the scaling lands elsewhere
    (m3, _), _, _, _ = model_pair(seed=3)
    sam_step(rho=rho)(m3, torch.optim.SGD(m3.parameters(), lr=1.0), x, y)
    assert not all(torch.allclose(a, b) for a, b in zip(m2.parameters(), m3.parameters()))


