"""lbgap.remedies.augmentation: signal and image augmentation, seeded."""

from __future__ import annotations

import pytest
import torch

from lbgap.remedies.augmentation import (
    ImageAugmentation,
    SignalAugmentation,
    augment_images,
    augment_signals,
    augmentation_step,
    AugmentationOptions,
    augmentation,
)
from lbgap.models import build_model
from lbgap.remedies.registry import Run
from lbgap.train.loop import train
from lbgap.train.recipe import Recipe


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


def test_augmentation_step_trains_with_labels_unchanged_and_refuses_images(tiny_data, train_config):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 1})
    step = augmentation_step(SignalAugmentation(max_shift=1, scale=0.1, noise=0.05), seed=0)
    history = train(model, tiny_data, batch_size=16, config=train_config(max_epochs=3, lr=1e-2), seed=0, recipe=Recipe(step=step))
    assert history[-1].train_loss < history[0].train_loss
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="SignalAugmentation needs inputs of rank 2"):
        step(model, optimizer, torch.zeros(2, 1, 6), torch.zeros(2, dtype=torch.long))


def test_image_augmentation_keeps_shapes_draws_per_image_and_is_reproducible():
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    config = ImageAugmentation(hflip=0.5, degrees=10, translate=0.2)
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
    options = AugmentationOptions(SignalAugmentation(max_shift=1, scale=0.1, noise=0.0), ImageAugmentation(hflip=0.5, degrees=10, translate=0.2))
    model = build_model("C1", input_shape=(3, 32, 32), num_classes=10, seed=0)
    step = augmentation(options, Run(0, "cifar10", 4, 4, 4, 4, 1)).step
    loss = step(model, torch.optim.Adam(model.parameters()), torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="no augmentation is defined for data set 'npz'"):
        augmentation(options, Run(0, "npz", 4, 4, 4, 4, 1))
