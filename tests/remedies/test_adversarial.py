"""lbgap.remedies.adversarial: FGSM/PGD inputs and Goodfellow et al.'s mixed loss."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from lbgap.remedies.adversarial import adversarial_inputs, adversarial_step


def test_the_attack_sees_batch_statistics_like_the_update_it_feeds(model_pair):
    """Train mode: BN normalizes with the batch's statistics during the attack (the FGSM step equals the
    sign of the train-mode input gradient), and the running statistics are left alone."""
    (model, _), _, x, y = model_pair()
    model.eval()  # the attack must switch to train mode itself, and restore the mode
    x_req = x.clone().requires_grad_(True)
    model.train()
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x_req), y), x_req)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_adv = adversarial_inputs(model, x, y, radius=0.1, steps=1)
    torch.testing.assert_close(x_adv, x + 0.1 * grad.sign())
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pgd_starts_from_a_seeded_random_point_in_the_ball(model_pair):
    (model, _), _, x, y = model_pair()
    runs = [adversarial_inputs(model, x, y, 0.1, 3, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    torch.testing.assert_close(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])  # the start differs, so does the end point
    assert all((r - x).abs().max() <= 0.1 + 1e-6 for r in runs)


def test_adversarial_example_raises_the_loss_and_stays_in_its_radius(model_pair):
    (model, _), _, x, y = model_pair()
    model.eval()
    for steps in (1, 5):  # FGSM and PGD
        x_adv = adversarial_inputs(model, x, y, radius=0.1, steps=steps)
        assert (x_adv - x).abs().max() <= 0.1 + 1e-6
        with torch.no_grad():
            assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)


def test_adversarial_attack_leaves_batchnorm_statistics_alone(model_pair):
    (model, _), _, x, y = model_pair()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adversarial_inputs(model, x, y, radius=0.1, steps=3)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())




@pytest.mark.parametrize("clean_weight", [0.5, 0.0, 0.25])
def test_the_loss_mixes_clean_and_adversarial_batches(model_pair, clean_weight):
    """Goodfellow et al. 2015: the update follows the gradient of α·f(x) + (1 − α)·f(x + r·sign ∇ₓf),
    computed here by hand with plain autograd (BN in train mode for both terms)."""
    (m1, m2), _, x, y = model_pair(seed=2)
    radius = 0.1
    before = [p.detach().clone() for p in m2.parameters()]
    x_req = x.clone().requires_grad_(True)
    (input_grad,) = torch.autograd.grad(F.cross_entropy(m1(x_req), y), x_req)
    x_adv = x + radius * input_grad.sign()
    params = list(m1.parameters())
    clean = F.cross_entropy(m1(x), y)
    g_clean = torch.autograd.grad(clean, params)
    adversarial = F.cross_entropy(m1(x_adv), y)
    g_adversarial = torch.autograd.grad(adversarial, params)
    expected = [clean_weight * a + (1 - clean_weight) * b for a, b in zip(g_clean, g_adversarial)]
    loss = adversarial_step(radius=radius, steps=1, clean_weight=clean_weight)(m2, torch.optim.SGD(m2.parameters(), lr=1.0), x, y)
    torch.testing.assert_close(loss, (clean_weight * clean + (1 - clean_weight) * adversarial).detach())
    for p, w, g in zip(m2.parameters(), before, expected):
        torch.testing.assert_close(p, w - g, rtol=1e-5, atol=1e-6)


def test_the_running_statistics_follow_the_clean_batch(model_pair):
    """With a clean term the BN running statistics are those of one plain training pass on x; without one
    (α = 0), of a pass on x_adv."""
    (m1, m2), _, x, y = model_pair(seed=4)
    reference = copy.deepcopy(m2)
    adversarial_step(radius=0.1, steps=1, clean_weight=0.5)(m2, torch.optim.SGD(m2.parameters(), lr=0.0), x, y)
    reference.train()
    with torch.no_grad():
        reference(x)
    for (name, a), b in zip(m2.named_buffers(), reference.buffers()):
        torch.testing.assert_close(a, b, msg=name)
    adversarial_step(radius=0.1, steps=1, clean_weight=0.0)(m1, torch.optim.SGD(m1.parameters(), lr=0.0), x, y)
    assert not all(torch.equal(a, b) for a, b in zip(m1.buffers(), reference.buffers()))
