"""The model registry, in the style of timm's tests: every registered network on tiny inputs."""

from __future__ import annotations

import pytest
import torch

from lbgap.models import build_model, count_parameters, get_model, list_models, register_model


def _input_shape(name: str) -> tuple[int, ...]:
    return (3, 32, 32) if name.startswith("C") else (40,)


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_every_parameter_gets_a_gradient(name):
    shape = _input_shape(name)
    options = {"width": 16, "depth": 2} if name == "mlp" else {}  # the other networks take no options
    model = get_model(name, input_shape=shape, num_classes=10, **options)
    logits = model(torch.randn(4, *shape))
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# Trainable-parameter counts of the paper's networks on their data (reference, Table 1).
PAPER_NETWORKS = [
    ("F1", (1, 28, 28), 10, 1_462_794),
    ("F2", (360,), 1973, 2_780_085),
    ("C1", (3, 32, 32), 10, 1_757_834),
    ("C3", (3, 32, 32), 100, 1_775_204),
    ("C2", (3, 32, 32), 10, 14_991_946),
    ("C4", (3, 32, 32), 100, 15_038_116),
]


@pytest.mark.parametrize(("name", "shape", "classes", "expected"), PAPER_NETWORKS)
def test_paper_networks_have_the_published_parameter_counts_and_output_shapes(name, shape, classes, expected):
    model = build_model(name, input_shape=shape, num_classes=classes, seed=0).eval()
    assert count_parameters(model) == expected
    with torch.no_grad():
        assert model(torch.rand(2, *shape)).shape == (2, classes)


def test_shallow_convnet_pools_like_keras_same_padding():
    """Keras 'same' 3×3/2 pooling: 32 → 16 → 8, so the first dense layer sees 8·8·64 = 4096 inputs."""
    model = build_model("C1", input_shape=(3, 32, 32), num_classes=10, seed=0)
    assert model.classifier[0].in_features == 4096
    assert model.features(torch.zeros(1, 3, 32, 32)).shape == (1, 64, 8, 8)


def test_convnets_refuse_vector_inputs():
    with pytest.raises(ValueError, match="image inputs"):
        get_model("C2", input_shape=(40,), num_classes=10)


def test_batch_statistics_mode_normalizes_with_the_evaluated_batch():
    """batchnorm 'batch' (Keras-1 mode=2): eval output equals train-mode output, depends on the batch,
    and the network keeps no running statistics; 'running' evaluates each sample on its own."""
    x = torch.randn(16, 6) * 3 + 1
    keras = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2}, batchnorm="batch")
    assert not any("running" in name for name in keras.state_dict())
    torch.testing.assert_close(keras.eval()(x), keras.train()(x))
    keras.eval()
    assert not torch.allclose(keras(x)[:8], keras(x[:8]))  # other batch, other statistics
    running = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2}).eval()
    torch.testing.assert_close(running(x)[:8], running(x[:8]))
    with pytest.raises(ValueError, match="batchnorm must be one of"):
        build_model("mlp", input_shape=(6,), num_classes=3, seed=0, batchnorm="ghost")


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


def test_an_option_the_network_does_not_take_is_named_with_the_ones_it_does():
    with pytest.raises(ValueError, match="'mlp' has no option widht; its options: width, depth"):
        get_model("mlp", input_shape=(40,), num_classes=10, widht=256)


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
