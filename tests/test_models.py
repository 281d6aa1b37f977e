"""The model registry, in the style of timm's tests: every registered network on tiny inputs."""

from __future__ import annotations

import pytest
import torch

from lbgap.models import build_model, count_parameters, get_model, list_models, register_model


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_every_parameter_gets_a_gradient(name):
    model = get_model(name, input_shape=(40,), num_classes=10)
    logits = model(torch.randn(8, 40))
    assert logits.shape == (8, 10) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_mlp_shape_and_parameter_count():
    model = get_model("mlp", input_shape=(40,), num_classes=10, width=256, depth=3)
    # 3 × [Linear + BN(weight, bias)] + output layer
    expected = (40 * 256 + 256) + 2 * (256 * 256 + 256) + 3 * 2 * 256 + (256 * 10 + 10)
    assert count_parameters(model) == expected
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Flatten"] + ["Linear", "BatchNorm1d", "ReLU"] * 3 + ["Linear"]


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet9'.*mlp"):
        get_model("resnet9", input_shape=(4,), num_classes=2)


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("mlp")(lambda **_: None)


def test_build_model_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = build_model("mlp", input_shape=(4,), num_classes=2, seed=3, options={"width": 5, "depth": 1})
    assert torch.rand(1) == expected_next
    b = build_model("mlp", input_shape=(4,), num_classes=2, seed=3, options={"width": 5, "depth": 1})
    c = build_model("mlp", input_shape=(4,), num_classes=2, seed=4, options={"width": 5, "depth": 1})
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
