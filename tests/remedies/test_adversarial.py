"""lbgap.remedies.adversarial: FGSM/PGD inputs."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from lbgap.remedies.adversarial import (
    adversarial_inputs,
)


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


