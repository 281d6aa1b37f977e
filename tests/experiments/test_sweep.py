"""lbgap.experiments.sweep: one point of the batch-size sweep and the threshold rule."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from lbgap.experiments.sweep import sweep_batch, threshold_batch
from lbgap.measures.sharpness import Sharpness
from lbgap.train.loop import fixed_budget
from lbgap.train.loop import train


@pytest.mark.parametrize(
    ("batches", "accuracies", "drop", "expected"),
    [
        ([64, 256, 1024], [90.0, 89.5, 89.2], 1.0, None),  # within 1 point of the best smaller size
        ([64, 256, 1024, 4096], [90.0, 89.5, 85.0, 80.0], 1.0, 1024),
        ([256, 64, 4096, 1024], [89.5, 90.0, 80.0, 85.0], 1.0, 1024),  # order of the input does not matter
        ([64, 256, 1024], [88.0, 91.0, 89.5], 1.0, 1024),  # the reference is the best smaller size (256)
        ([64, 256, 1024], [88.0, 91.0, 89.5], 2.0, None),
    ],
)
def test_threshold_rule(batches, accuracies, drop, expected):
    assert threshold_batch(batches, accuracies, drop).batch_size == expected


def test_threshold_crossing_interpolates_in_log_batch_size():
    # best 90 at 256, level 89; accuracy goes 90 → 86 from 256 to 1024, so it passes 89 a quarter of
    # the way in log2: 2 ** (8 + 0.25 · 2) = 2 ** 8.5
    result = threshold_batch([64, 256, 1024], [89.0, 90.0, 86.0], 1.0)
    assert (result.batch_size, result.reference_batch, result.reference_accuracy) == (1024, 256, 90.0)
    assert math.isclose(result.crossing, 2**8.5)


def test_sweep_batch_reports_steps_accuracy_and_the_probe(tiny_data, budget, small_mlp):
    runs = sweep_batch(
        small_mlp, tiny_data, 32, epochs=3, seeds=2, config=budget,
        measure=lambda model: Sharpness(7.0, 0.1, 0.107, 10, 11, "stub", levelled_off=False),
    )
    assert [(r.seed, r.steps, r.sharpness, r.sharpness_levelled_off) for r in runs] == [(0, 9, 7.0, False), (1, 9, 7.0, False)]  # 3 · ⌊96/32⌋
    reference = small_mlp(1)
    end = train(reference, tiny_data, batch_size=32, config=fixed_budget(budget, 3), seed=1)[-1]
    assert runs[1].test_accuracy == end.test_accuracy and runs[1].train_loss == end.train_loss




def test_sweep_runs_are_also_measured_at_their_first_epoch_at_the_target_loss(tiny_data, budget, small_mlp):
    reference = train(small_mlp(0), tiny_data, batch_size=32, config=fixed_budget(budget, 4), seed=0)
    target = reference[2].train_loss  # seed 0 reaches it at epoch 2 at the latest
    expected_epoch = next(r.epoch for r in reference[1:] if r.train_loss <= target)
    at_two = small_mlp(0)
    train(at_two, tiny_data, batch_size=32, config=fixed_budget(budget, expected_epoch), seed=0)
    weights_sum = lambda model: float(sum(p.detach().double().sum() for p in model.parameters()))  # noqa: E731 (identifies the weights)
    kept = []
    (run,) = sweep_batch(
        small_mlp, tiny_data, 32, epochs=4, seeds=1, config=replace(budget, target_loss=target), keep=kept.append,
        measure=lambda model: Sharpness(weights_sum(model), 0.1, 0.2, 10, 11, "stub", levelled_off=True),
    )
    assert run.target_epoch == expected_epoch and run.target_train_loss == pytest.approx(target, rel=1e-6, abs=0)
    assert run.sharpness_at_target == weights_sum(at_two) and run.sharpness_at_target_levelled_off is True
    assert run.sharpness == _trained(small_mlp, tiny_data, budget, 4)  # the final weights, measured as well
    assert kept[0].target_epoch == expected_epoch and all(torch.equal(kept[0].at_target[k], v) for k, v in at_two.state_dict().items())
    (never,) = sweep_batch(small_mlp, tiny_data, 32, epochs=2, seeds=1, config=replace(budget, target_loss=1e-9),
                           measure=lambda model: Sharpness(1.0, 0.1, 0.2, 10, 11, "stub", levelled_off=True))
    assert (never.target_epoch, never.target_train_loss, never.sharpness_at_target, never.sharpness_at_target_levelled_off) == (None,) * 4


def _trained(small_mlp, data, budget, epochs):
    model = small_mlp(0)
    train(model, data, batch_size=32, config=fixed_budget(budget, epochs), seed=0)
    return float(sum(p.detach().double().sum() for p in model.parameters()))
