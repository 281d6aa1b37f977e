"""Each remedy against the plain step it generalizes, and against its own defining property."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from lbgap.train.strategies import (
    ImageAugmentation,
    SignalAugmentation,
    adversarial_inputs,
    augment_images,
    augment_signals,
    augmentation_step,
    conservative_step,
    sam_step,
    step_for,
)
from lbgap.models import build_model
from lbgap.train.loop import TrainConfig, plain_step, train


def _pair(seed: int = 0):
    """Two identical models with their Adam optimizers, one batch of data."""
    models = [build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": 8, "depth": 2}) for _ in range(2)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in models]
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.randn(16, 6, generator=generator), torch.randint(0, 3, (16,), generator=generator)
    return models, optimizers, x, y


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def test_conservative_with_zero_lambda_and_one_inner_step_is_a_plain_adam_step():
    (m1, m2), (o1, o2), x, y = _pair()
    for _ in range(3):  # a few steps, so Adam's moment estimates matter too
        plain_step(m1, o1, x, y)
        conservative_step(lam=0.0, inner_steps=1)(m2, o2, x, y)
    _assert_same_state(m1, m2)


def test_conservative_proximal_term_pulls_towards_the_anchor():
    (m1, m2), _, x, y = _pair()
    sgd = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (m1, m2)]
    start = [p.detach().clone() for p in m1.parameters()]
    conservative_step(lam=0.0, inner_steps=3)(m1, sgd[0], x, y)
    conservative_step(lam=5.0, inner_steps=3)(m2, sgd[1], x, y)
    moved = [sum(((p - s) ** 2).sum() for p, s in zip(m.parameters(), start)).item() for m in (m1, m2)]
    assert moved[1] < moved[0]


def test_sam_with_zero_rho_is_the_base_optimizer_step():
    for adaptive in (False, True):
        (m1, m2), (o1, o2), x, y = _pair()
        for _ in range(3):
            plain_step(m1, o1, x, y)
            sam_step(rho=0.0, adaptive=adaptive)(m2, o2, x, y)
        _assert_same_state(m1, m2)  # BatchNorm running statistics included: the second pass is frozen


def test_sam_takes_the_gradient_at_the_perturbed_point():
    (m1, m2), _, x, y = _pair()
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


def test_asam_takes_the_gradient_at_the_scaled_perturbation():
    """ASAM by hand (Kwon et al.): T = |w| + η on weight matrices, 1 on biases and BN parameters;
    ε = ρ T²g / ‖T g‖; the gradient at w + ε is applied at w."""
    (m1, m2), _, x, y = _pair(seed=3)
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
    (m3, _), _, _, _ = _pair(seed=3)
    sam_step(rho=rho)(m3, torch.optim.SGD(m3.parameters(), lr=1.0), x, y)
    assert not all(torch.allclose(a, b) for a, b in zip(m2.parameters(), m3.parameters()))


def test_the_attack_sees_batch_statistics_like_the_update_it_feeds():
    """Train mode: BN normalizes with the batch's statistics during the attack (the FGSM step equals the
    sign of the train-mode input gradient), and the running statistics are left alone."""
    (model, _), _, x, y = _pair()
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


def test_pgd_starts_from_a_seeded_random_point_in_the_ball():
    (model, _), _, x, y = _pair()
    runs = [adversarial_inputs(model, x, y, 0.1, 3, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    torch.testing.assert_close(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])  # the start differs, so does the end point
    assert all((r - x).abs().max() <= 0.1 + 1e-6 for r in runs)


def test_adversarial_example_raises_the_loss_and_stays_in_its_radius():
    (model, _), _, x, y = _pair()
    model.eval()
    for steps in (1, 5):  # FGSM and PGD
        x_adv = adversarial_inputs(model, x, y, radius=0.1, steps=steps)
        assert (x_adv - x).abs().max() <= 0.1 + 1e-6
        with torch.no_grad():
            assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)


def test_adversarial_attack_leaves_batchnorm_statistics_alone():
    (model, _), _, x, y = _pair()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adversarial_inputs(model, x, y, radius=0.1, steps=3)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_augmentation_keeps_shapes_and_is_reproducible_from_its_seed():
    x = torch.randn(32, 40, generator=torch.Generator().manual_seed(0))
    config = SignalAugmentation(max_shift=3, scale=0.2, noise=0.1)
    a = augment_signals(x, config, torch.Generator().manual_seed(5))
    b = augment_signals(x, config, torch.Generator().manual_seed(5))
    c = augment_signals(x, config, torch.Generator().manual_seed(6))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    # With no scale or noise, each row is a circular shift of the original by at most max_shift.
    shifted = augment_signals(x, SignalAugmentation(max_shift=3, scale=0.0, noise=0.0), torch.Generator().manual_seed(1))
    for row, original in zip(shifted, x):
        assert any(torch.equal(row, torch.roll(original, k)) for k in range(-3, 4))


def test_augmentation_step_trains_with_labels_unchanged_and_refuses_images(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 1})
    step = augmentation_step(SignalAugmentation(max_shift=1), seed=0)
    history = train(model, tiny_data, batch_size=16, config=TrainConfig(max_epochs=3, lr=1e-2), seed=0, step=step)
    assert history[-1].train_loss < history[0].train_loss
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="SignalAugmentation needs inputs of rank 2"):
        step(model, optimizer, torch.zeros(2, 1, 6), torch.zeros(2, dtype=torch.long))


def test_image_augmentation_keeps_shapes_draws_per_image_and_is_reproducible():
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    config = ImageAugmentation()
    a = augment_images(x, config, torch.Generator().manual_seed(1))
    b = augment_images(x, config, torch.Generator().manual_seed(1))
    c = augment_images(x, config, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, x)
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    augment_images(x, config, torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(1), expected_next), "the global RNG is left alone"


def test_image_augmentation_with_certain_flip_and_no_affine_is_a_mirror():
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    mirrored = augment_images(x, ImageAugmentation(hflip=1.0, degrees=0, translate=0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(mirrored, x.flip(-1))
    unchanged = augment_images(x, ImageAugmentation(hflip=0.0, degrees=0, translate=0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(unchanged, x)


def test_augmentation_is_chosen_by_data_set_and_refused_for_npz():
    options = {"signal": {"max_shift": 1, "scale": 0.1, "noise": 0.0}, "image": {"hflip": 0.5, "degrees": 10, "translate": 0.2}}
    model = build_model("C1", input_shape=(3, 32, 32), num_classes=10, seed=0)
    step = step_for("augmentation", options, seed=0, data_name="cifar10")
    loss = step(model, torch.optim.Adam(model.parameters()), torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="no augmentation is defined for data set 'npz'"):
        step_for("augmentation", options, seed=0, data_name="npz")
