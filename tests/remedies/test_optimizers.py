"""The optimizer remedies: LAMB's update against its formula, SGD and AdamW as configured, and which
remedies are compared at both batch sizes."""

from __future__ import annotations

import pytest
import torch

from lbgap.remedies.adamw import AdamwOptions, adamw
from lbgap.remedies.lamb import Lamb, LambOptions, lamb
from lbgap.remedies.registry import get_strategy, list_strategies
from lbgap.remedies.sgd import SgdOptions, sgd


def test_lamb_matches_its_formula_over_two_steps():
    torch.manual_seed(0)
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    reference = w.detach().clone()
    optimizer = Lamb([w], lr=0.1, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01)
    m = torch.zeros_like(reference)
    v = torch.zeros_like(reference)
    for t in (1, 2):
        g = torch.randn(4, 3, dtype=torch.float64)
        w.grad = g.clone()
        optimizer.step()
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g * g
        r = (m / (1 - 0.9**t)) / ((v / (1 - 0.99**t)).sqrt() + 1e-6) + 0.01 * reference
        reference = reference - 0.1 * (reference.norm() / r.norm()) * r
        torch.testing.assert_close(w.detach(), reference, rtol=1e-12, atol=1e-12)


def test_lamb_moves_each_tensor_by_lr_times_its_norm():
    """The trust ratio: without weight decay every tensor's step has norm lr · ‖w‖, whatever its gradient's scale."""
    torch.manual_seed(1)
    tensors = [torch.randn(5, 5, requires_grad=True), (100 * torch.randn(7, 2)).requires_grad_()]
    before = [t.detach().clone() for t in tensors]
    for t, scale in zip(tensors, (1e-4, 1e3)):
        t.grad = scale * torch.randn_like(t)
    Lamb(tensors, lr=0.01).step()
    for t, w in zip(tensors, before):
        assert (t.detach() - w).norm().item() == pytest.approx(0.01 * w.norm().item(), rel=1e-5)


def test_lamb_warms_up_from_zero(run):
    recipe = lamb(LambOptions(lr=0.02, weight_decay=0.0, warmup_epochs=4), run())
    assert [recipe.learning_rate(t) for t in (0, 2, 4, 10)] == [0, 0.5, 1, 1]
    assert recipe.optimizer([torch.zeros(2, requires_grad=True)], 1e-3, (0.9, 0.999)).defaults["lr"] == 0.02


def test_sgd_and_adamw_are_configured_by_their_options(run):
    w = [torch.zeros(2, requires_grad=True)]
    optimizer = sgd(SgdOptions(lr=0.05, momentum=0.9), run()).optimizer(w, 1e-3, (0.9, 0.999))
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["lr"] == 0.05 and optimizer.defaults["momentum"] == 0.9
    optimizer = adamw(AdamwOptions(weight_decay=0.01), run()).optimizer(w, 1e-3, (0.8, 0.99))
    assert isinstance(optimizer, torch.optim.AdamW)
    assert (optimizer.defaults["lr"], optimizer.defaults["betas"], optimizer.defaults["weight_decay"]) == (1e-3, (0.8, 0.99), 0.01)


def test_lamb_leaves_biases_and_normalization_parameters_to_adam():
    """You et al.'s exclusions: a 1-D tensor (a bias, BN's γ or β) takes Adam's step, no trust ratio and no
    weight decay, while a weight matrix gets both."""
    torch.manual_seed(2)
    bias, weight = torch.randn(6, requires_grad=True), torch.randn(4, 6, requires_grad=True)
    twin = bias.detach().clone().requires_grad_(True)
    lamb_optimizer = Lamb([bias, weight], lr=0.01, weight_decay=0.5)
    adam_optimizer = torch.optim.Adam([twin], lr=0.01, eps=1e-6)
    for _ in range(3):
        g = torch.randn(6)
        bias.grad, twin.grad, weight.grad = g.clone(), g.clone(), torch.randn(4, 6)
        w = weight.detach().clone()
        lamb_optimizer.step()
        adam_optimizer.step()
        torch.testing.assert_close(bias.detach(), twin.detach())
        assert (weight.detach() - w).norm().item() == pytest.approx(0.01 * w.norm().item(), rel=1e-5)
    bias.grad = weight.grad = None  # no gradient, no step: the decay does not act on its own
    kept = bias.detach().clone()
    lamb_optimizer.step()
    assert torch.equal(bias.detach(), kept)


# How each remedy relates to batch size: a change of training method is also trained at SB (its own
# control); growing_batch's SB run is Smith et al.'s decaying-LR baseline; the rest adapt LB training only.
AT_BOTH_BATCH_SIZES = {"adamw", "adversarial", "asam", "augmentation", "conservative", "growing_batch", "lamb",
                       "orthogonal_init", "sam", "scaled_init", "sgd"}
LB_ONLY = {"adaptive_batch", "ghost_bn", "hoffer", "hybrid", "linear_scaling", "matched_updates", "sqrt_scaling"}


@pytest.mark.parametrize("name", list_strategies())
def test_every_change_of_training_method_has_its_own_sb_control(name):
    assert name in AT_BOTH_BATCH_SIZES | LB_ONLY, f"classify the new remedy {name!r}"
    assert get_strategy(name).with_small_batch == (name in AT_BOTH_BATCH_SIZES)
