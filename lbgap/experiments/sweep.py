"""Test accuracy and sharpness against batch size with a fixed epoch budget, and where accuracy drops.

The paper trains each batch size for 100 epochs and finds a threshold batch size (≈ 500 for C1,
≈ 15000 for F2) beyond which test accuracy falls sharply. With a fixed budget of epochs, larger batches
also take fewer steps; that is the paper's protocol and part of what it measures.

Threshold rule (ours; the paper reads it off its figure): with a_b the mean test accuracy (%) at batch
size b over seeds and best(b) = max of a_b' over the swept b' < b, the threshold is the smallest swept b
with a_b < best(b) − drop. `crossing` refines it between that b and the swept size below it, by linear
interpolation of accuracy in log₂(batch size), to where the accuracy passes best(b) − drop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from torch import nn

from lbgap.data import DataSet
from lbgap.measures.sharpness import Sharpness, measure_at
from lbgap.train.checkpoint import Checkpoint, cpu_state
from lbgap.train.loop import TrainConfig, fixed_budget, target_fields, train


@dataclass(frozen=True)
class SweepRun:
    batch_size: int
    seed: int
    steps: int  # optimizer steps taken: epochs · ⌊N / batch⌋
    train_loss: float
    train_accuracy: float  # fraction
    test_accuracy: float  # fraction
    sharpness: float  # φ full space (percent, Metric 2.1)
    sharpness_levelled_off: bool  # the maximizer's certificate held (lbgap.measures.sharpness)
    target_epoch: int | None  # the epoch in which training loss first was ≤ train.target_loss (None: not within the budget)
    target_updates: int | None  # the updates taken when it was
    target_train_loss: float | None
    target_test_accuracy: float | None  # fraction
    sharpness_at_target: float | None  # φ of that iterate
    sharpness_at_target_levelled_off: bool | None



def sweep_batch(
    make_model: Callable[[int], nn.Module],
    data: DataSet,
    batch_size: int,
    *,
    epochs: int,
    seeds: int,
    config: TrainConfig,
    measure: Callable[[nn.Module], Sharpness],
    amp: bool = False,
    on_seed: Callable[[SweepRun], None] | None = None,
    keep: Callable[[Checkpoint], None] | None = None,
    on_epoch_done: Callable[[int], None] | None = None,
) -> list[SweepRun]:
    """Train `make_model(seed)` for seeds 0 .. seeds-1 with `batch_size` for exactly `epochs` epochs
    (evaluated only at the end) and measure each solution's sharpness with `measure(model)`, at the end and
    where its training loss first reached `config.target_loss`; `keep` receives each run's
    Checkpoint (CPU tensors)."""
    runs = []
    for seed in range(seeds):
        model = make_model(seed)
        x0, at_target = cpu_state(model), {}
        history = train(
            model, data, batch_size=batch_size, config=fixed_budget(config, epochs), seed=seed, amp=amp,
            evaluate_every=epochs, on_epoch_done=on_epoch_done, on_target=lambda record: at_target.update(record=record, state=cpu_state(model)),
        )
        end = history[-1]
        phi = measure(model)
        phi_at = measure_at(model, at_target["state"], measure) if at_target else None
        run = SweepRun(
            batch_size, seed, epochs * (len(data.train) // batch_size), end.train_loss, end.train_accuracy,
            end.test_accuracy, phi.phi, phi.levelled_off, *target_fields(at_target.get("record")),
            None if phi_at is None else phi_at.phi, None if phi_at is None else phi_at.levelled_off,
        )
        runs.append(run)
        if keep is not None:
            keep(Checkpoint(x0, cpu_state(model), batch_size, seed, at_target.get("state"), target_fields(at_target.get("record"))[0]))
        if on_seed is not None:
            on_seed(run)
    return runs


@dataclass(frozen=True)
class Threshold:
    drop: float  # percentage points below the best smaller batch size that count as a drop
    batch_size: int | None  # the smallest swept batch size whose accuracy dropped; None: no drop in range
    reference_batch: int | None  # the smaller batch size with the best accuracy it dropped from
    reference_accuracy: float | None  # that accuracy (%)
    accuracy: float | None  # the dropped accuracy (%)
    crossing: float | None  # batch size where the accuracy passes reference − drop (log-linear interpolation)


def threshold_batch(batch_sizes: Sequence[int], accuracies: Sequence[float], drop: float) -> Threshold:
    """The threshold batch size by the rule in the module docstring; `accuracies` are mean test
    accuracies in percent, one per batch size (any order)."""
    if len(batch_sizes) != len(accuracies):
        raise ValueError("one accuracy per batch size")
    pairs = sorted(zip(batch_sizes, accuracies))
    for i in range(1, len(pairs)):
        reference_batch, reference = max(pairs[:i], key=lambda p: p[1])
        batch, accuracy = pairs[i]
        level = reference - drop
        if accuracy < level:
            # the size below did not drop, so its accuracy is above `level`: the crossing lies between
            below_batch, below = pairs[i - 1]
            t = (below - level) / (below - accuracy)
            crossing = 2 ** (math.log2(below_batch) + t * (math.log2(batch) - math.log2(below_batch)))
            return Threshold(drop, batch, reference_batch, reference, accuracy, crossing)
    return Threshold(drop, None, None, None, None, None)
