"""lbgap.experiments.sweep: one point of the batch-size sweep and the threshold rule."""

from __future__ import annotations

import math

import pytest

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


