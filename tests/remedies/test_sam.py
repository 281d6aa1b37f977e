"""lbgap.remedies.sam: SAM and ASAM steps against hand-computed updates."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from lbgap.remedies.sam import (
    sam_step,
)
from lbgap.train.recipe import plain_step


def test_sam_with_zero_rho_is_the_base_optimizer_step(model_pair):
    """Weights bit for bit; the BN running statistics to float rounding (SAM combines them once per step,
    (1 − momentum)·old + momentum·batch, where BatchNorm's kernel may sum in another order)."""
    for adaptive in (False, True):
        (m1, m2), (o1, o2), x, y = model_pair()
        for _ in range(3):
            plain_step(m1, o1, x, y)
            sam_step(rho=0.0, adaptive=adaptive)(m2, o2, x, y)
        for (name, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
            if name.endswith(("running_mean", "running_var")):
                torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
            else:
                assert torch.equal(a, b), name


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
    """ASAM by hand (Kwon et al.'s code): T = |w| + η on every parameter named `weight` (weight matrices and
    BN's γ), 1 on biases and BN's β; ε = ρ T²g / ‖T g‖; the gradient at w + ε is applied at w."""
    (m1, m2), _, x, y = model_pair(seed=3)
    sgd = torch.optim.SGD(m2.parameters(), lr=1.0)
    before = [p.detach().clone() for p in m2.parameters()]
    rho, eta = 0.5, 0.01
    names, params = zip(*m1.named_parameters())
    assert any(n.endswith("weight") and p.dim() == 1 for n, p in zip(names, params)), "the net should have BN's γ"
    grads = torch.autograd.grad(F.cross_entropy(m1(x), y), params)
    scales = [(p.detach().abs() + eta) if n.endswith(".weight") else torch.ones_like(p) for n, p in zip(names, params)]
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



def _hand_sam_gradient(model, x, y, rho):
    """SAM's gradient on one batch by hand: g at w, ε = ρ g/‖g‖, the gradient at w + ε (BN in train mode);
    the model's weights are put back, its BN buffers are not."""
    params = list(model.parameters())
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.add_(rho * g / norm)
    perturbed = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(rho * g / norm)
    return perturbed


@pytest.mark.parametrize(("sub_batch", "sizes"), [(4, [4, 4, 4, 4]), (5, [4, 4, 4, 4]), (6, [6, 5, 5]), (16, [16])])
def test_m_sharpness_perturbs_each_sub_batch_on_its_own(model_pair, sub_batch, sizes):
    """Foret et al.'s m-sharpness: each sub-batch of at most m samples gets its own ε_i from its own gradient,
    and the update is the size-weighted mean of the sub-batches' gradients at w + ε_i."""
    (m1, m2), _, x, y = model_pair(seed=5)
    m1.load_state_dict(m2.state_dict())
    rho = 0.05
    before = [p.detach().clone() for p in m2.parameters()]
    expected = [torch.zeros_like(p) for p in before]
    start = 0
    for size in sizes:
        for e, g in zip(expected, _hand_sam_gradient(m1, x[start:start + size], y[start:start + size], rho)):
            e.add_(g, alpha=size / len(x))
        start += size
    assert start == len(x)
    sam_step(rho=rho, sub_batch=sub_batch)(m2, torch.optim.SGD(m2.parameters(), lr=1.0), x, y)
    for p, w, g in zip(m2.parameters(), before, expected):
        torch.testing.assert_close(p, w - g, rtol=1e-5, atol=1e-6)


def test_small_sub_batches_change_the_update(model_pair):
    """m matters: with m = 4 the step is not the whole-batch SAM step (else the option would do nothing)."""
    (m1, m2), _, x, y = model_pair(seed=6)
    sam_step(rho=0.05)(m1, torch.optim.SGD(m1.parameters(), lr=1.0), x, y)
    sam_step(rho=0.05, sub_batch=4)(m2, torch.optim.SGD(m2.parameters(), lr=1.0), x, y)
    assert max(float((a - b).abs().max()) for a, b in zip(m1.state_dict().values(), m2.state_dict().values())) > 1e-4


def test_the_running_statistics_take_one_update_per_step_from_the_sub_batches_mean(model_pair):
    """As Foret et al.'s per-device averages: running ← (1 − momentum)·running + momentum·Σ_i (B_i/B)·s_i with
    s_i the mean and unbiased variance of what each BN layer saw in sub-batch i's first pass (at w, read
    here by hooks on a copy), and one batch counted per step, not one per sub-batch."""
    import copy

    (model, _), _, x, y = model_pair(seed=7)
    reference = copy.deepcopy(model).train()
    layers = [m for m in reference.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    seen = {id(m): [] for m in layers}
    hooks = [m.register_forward_hook(lambda m, inputs, out: seen[id(m)].append(inputs[0].detach())) for m in layers]
    with torch.no_grad():
        for x_i in torch.tensor_split(x, 3):  # m = 6 on 16 samples: 6, 5, 5
            reference(x_i)
    for hook in hooks:
        hook.remove()
    before = {name: b.clone() for name, b in model.named_buffers()}
    sam_step(rho=0.05, sub_batch=6)(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y)
    bn_names = [name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm1d)]
    for name, layer in zip(bn_names, layers):
        parts = seen[id(layer)]
        mean = sum(len(p) / len(x) * p.mean(0) for p in parts)
        var = sum(len(p) / len(x) * p.var(0, unbiased=True) for p in parts)
        torch.testing.assert_close(dict(model.named_buffers())[f"{name}.running_mean"], 0.9 * before[f"{name}.running_mean"] + 0.1 * mean)
        torch.testing.assert_close(dict(model.named_buffers())[f"{name}.running_var"], 0.9 * before[f"{name}.running_var"] + 0.1 * var)
        assert int(dict(model.named_buffers())[f"{name}.num_batches_tracked"]) == int(before[f"{name}.num_batches_tracked"]) + 1
