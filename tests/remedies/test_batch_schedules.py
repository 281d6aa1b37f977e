"""Batch-size schedules: growing (Smith et al.), SB → LB hybrid and adaptive (McCandlish et al.)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lbgap.params import ParamsError
from lbgap.remedies.registry import read_options

from lbgap.remedies.adaptive_batch import AdaptiveBatchOptions, NoiseEstimate, adaptive_batch, next_batch
from lbgap.remedies.growing_batch import GrowingBatchOptions, growing_batch, growing_schedule
from lbgap.remedies.hybrid import HybridOptions, hybrid
from lbgap.train.loop import train
from lbgap.train.recipe import plain_step


def test_the_growing_schedule_starts_at_sb_and_ends_at_lb():
    schedule = growing_schedule(256, 4000, factor=2.0, every=5)
    sizes = [schedule(epoch, None, None) for epoch in range(1, 41)]
    assert sizes[0] == 256 and sizes[-1] == 4000
    assert sizes[:5] == [256] * 5 and sizes[5] == 512 and sizes[20] == 4000 and sizes[19] == 2048
    assert all(a <= b for a, b in zip(sizes, sizes[1:]))


def test_a_growing_run_records_its_batch_sizes_and_samples(run, small_mlp, tiny_data, train_config):
    recipe = growing_batch(GrowingBatchOptions(factor=2.0, every=1), run())
    history = train(small_mlp(), tiny_data, batch_size=48, config=train_config(max_epochs=4), seed=0, recipe=recipe)
    assert [r.batch_size for r in history[1:]] == [12, 24, 48, 48]
    assert history[-1].updates == 8 + 4 + 2 + 2 and history[-1].samples == 4 * 96


def test_the_growing_runs_control_decays_the_learning_rate_where_the_batch_grows(run):
    """Smith et al.'s baseline: batch SB throughout, and at every epoch learning rate ÷ batch size equals the
    growing run's (same noise scale), so the rate falls exactly when and as much as the batch grows."""
    options = GrowingBatchOptions(factor=2.0, every=5)
    growing = growing_batch(options, run(batch_size=4000, small_batch=256, large_batch=4000))
    control = growing_batch(options, run(batch_size=256, regime="sb", small_batch=256, large_batch=4000))
    assert growing.learning_rate is None and control.batch_size is None
    for epoch in range(1, 41):
        for done in (epoch - 1, epoch - 0.5):  # the epoch's start and middle
            assert control.learning_rate(done) / 256 == pytest.approx(1 / growing.batch_size(epoch, None, None))
    assert [control.learning_rate(e) for e in (0, 4.9, 5, 10, 15, 20, 39)] == pytest.approx([1, 1, 0.5, 0.25, 0.125, 256 / 4000, 256 / 4000])


def test_both_arms_of_the_growing_comparison_train_the_same_epochs_at_equal_lr_over_batch(run, small_mlp, tiny_data, train_config):
    """Through the training loop: the growing run (12 → 24 → 48) and its SB baseline train every epoch of
    the budget although the stopping rule would fire at once, and the learning rate each step of the baseline
    ran with, divided by its batch 12, equals the growing run's rate over that epoch's batch."""
    options = GrowingBatchOptions(factor=2.0, every=1)
    impatient = train_config(max_epochs=4, patience=1, min_delta=10.0, lr=1e-2)
    seen = {"growing": [], "baseline": []}
    for arm, batch in (("growing", 48), ("baseline", 12)):
        recipe = growing_batch(options, run(batch_size=batch, regime="lb" if batch == 48 else "sb"))

        def step(model, optimizer, x, y, arm=arm):
            seen[arm].append((optimizer.param_groups[0]["lr"], len(x)))
            return plain_step(model, optimizer, x, y)

        history = train(small_mlp(), tiny_data, batch_size=batch, config=impatient, seed=0, recipe=replace(recipe, step=step))
        assert history[-1].epoch == 4, arm
    growing = [lr / size for lr, size in seen["growing"]]
    assert [size for _, size in seen["growing"]] == [12] * 8 + [24] * 4 + [48] * 2 + [48] * 2
    per_epoch = {"growing": [growing[0], growing[8], growing[12], growing[14]]}
    baseline = [lr / size for lr, size in seen["baseline"]]
    assert all(size == 12 for _, size in seen["baseline"]) and len(baseline) == 4 * 8
    per_epoch["baseline"] = [baseline[8 * e] for e in range(4)]
    assert per_epoch["baseline"] == pytest.approx(per_epoch["growing"])
    assert all(b == pytest.approx(baseline[8 * (i // 8)]) for i, b in enumerate(baseline))  # constant within an epoch


def test_the_hybrid_trains_sb_for_its_fraction_of_the_budget_then_lb(run):
    schedule = hybrid(HybridOptions(sb_fraction=0.2), run(max_epochs=20)).batch_size
    assert [schedule(e, None, None) for e in range(1, 8)] == [12, 12, 12, 12, 48, 48, 48]
    with pytest.raises(ParamsError, match="'mitigation.hybrid.sb_fraction' must be <= 1"):  # refused where params are read
        read_options("hybrid", {"sb_fraction": 1.5})


def test_the_adaptive_batch_grows_toward_b_simple_never_shrinks_never_exceeds_lb():
    assert next_batch(256, 1000.4, 4000) == 1000
    assert next_batch(1000, 300.0, 4000) == 1000  # never shrinks
    assert next_batch(1000, 1e6, 4000) == 4000
    assert next_batch(512, math.nan, 4000) == 512  # an undefined estimate keeps the batch


def test_an_adaptive_run_measures_the_noise_scale_between_epochs(run, small_mlp, tiny_data, train_config):
    recipe = adaptive_batch(AdaptiveBatchOptions(every=1, noise=NoiseEstimate(small=4, big=32, batches=4)), run())
    sizes = []
    for _ in range(2):  # the same run twice: the measurements are seeded
        history = train(small_mlp(), tiny_data, batch_size=48, config=train_config(max_epochs=4), seed=0, recipe=recipe)
        sizes.append([r.batch_size for r in history[1:]])
    assert sizes[0] == sizes[1]
    assert sizes[0][0] == 12 and all(12 <= a <= b <= 48 for a, b in zip(sizes[0], sizes[0][1:]))
    assert sizes[0][-1] > 12, "the blobs' noise scale exceeds 12 samples once the loss has fallen"
