"""Mini-batch training with Adam until the training loss stops improving (paper §2.2 protocol).

Small-batch (SB) and large-batch (LB) runs use this same loop and the same optimizer settings; only
the batch size differs, as in the paper (the learning rate is not retuned for LB).

Stopping rule. The paper trains "until the loss stopped improving". We approximate that with the
full-training-set loss measured in eval mode after every epoch: training stops after `patience`
consecutive epochs in which that loss did not fall more than `min_delta` nats below the best value
seen before them, at an epoch whose loss is at most the median of those `patience` losses, or at
`max_epochs`, whichever comes first. The threshold is absolute on purpose: with Adam the LB loss keeps
shrinking geometrically for hundreds of epochs after the fit is complete, so any relative rule would
never fire. The weights returned are the last iterate (not the best one), since the study is about where
the optimizer ends up; the median condition keeps that iterate from being the top of one of the
transient loss spikes Adam makes near zero loss (an SB run of the default once stopped at training loss
0.46, two epochs after 2e-4): a run ends at a loss typical of its plateau, which its noise reaches about
every other epoch, not on an excursion above it.

The same training loss. Near zero cross-entropy every loss-based curvature measure shrinks with the
loss, and runs stop at different losses (SB and LB differ by a factor of a few on the default). So each run also
hands the first iterate whose full-training-set loss (eval mode) is at most `target_loss` to `on_target`
(Jiang et al. 2020 train every model to cross-entropy 0.01 for this reason): solutions can then be
compared at the same training loss as well as where they ended. An SB epoch is many updates and can
take the loss from 1.5× to 0.6× the target, an LB epoch a few, so checking only at epoch ends would
match SB's loss far more loosely than LB's: in an epoch that starts with the loss within TARGET_GATE × the
target, the loss is also checked after every ⌊updates / TARGET_CHECKS_PER_EPOCH⌋ updates (at most once
per update, so the default LB run is checked after every update). Evaluation in eval mode changes
nothing about training.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from lbgap.data import DataSet
from lbgap.devices import autocast
from lbgap.params.sections import Train
from lbgap.train.evaluation import evaluate
from lbgap.train.parallel import Workers
from lbgap.train.recipe import PLAIN, Recipe


STREAMS = {"dropout": 1, "attack": 2, "init": 3}  # independent random streams derived from one run seed


# Within-epoch checks in an epoch that starts with the training loss ≤ TARGET_GATE × the target: an SB
# epoch of the default run cuts the loss by up to 2.4× near the target, so 4× leaves a margin.
TARGET_GATE = 4.0
TARGET_CHECKS_PER_EPOCH = 10  # checks every ⌊updates / this⌋ updates (at most one per update)


def near_target(latest_loss: float, target_loss: float | None) -> bool:
    """Whether an epoch that starts with training loss `latest_loss` checks the target within (`checked_updates`)."""
    return target_loss is not None and latest_loss <= TARGET_GATE * target_loss


def checked_updates(updates: int) -> set[int]:
    """After which of an epoch's `updates` updates a run near its target checks the loss: every
    ⌊updates / TARGET_CHECKS_PER_EPOCH⌋ (at least every one), not the last (the epoch's end checks it)."""
    every = max(1, updates // TARGET_CHECKS_PER_EPOCH)
    return set(range(every, updates, every))


def derived_seed(seed: int, stream: str, worker: int = 0) -> int:
    """A seed for `stream` of run `seed` (and data-parallel `worker` > 0), independent of the seed itself and
    of the other streams (numpy's SeedSequence hashing: no correlation between nearby seeds)."""
    entropy = [seed, STREAMS[stream]] + ([worker] if worker else [])
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass(frozen=True)
class TrainConfig:
    max_epochs: int
    patience: int  # epochs without sufficient improvement before stopping
    min_delta: float  # improvement of the best training loss (nats) that counts
    lr: float
    betas: tuple[float, float]
    eval_chunk: int  # samples per forward pass when evaluating whole splits
    target_loss: float | None = None  # nats: hand over the first checked iterate with a training loss at most this


def train_config(train: Train, eval_chunk: int) -> TrainConfig:
    """The `train` section as the loop takes it: runs ended by the stopping rule or `max_epochs`."""
    return TrainConfig(max_epochs=train.max_epochs, patience=train.patience, min_delta=train.min_delta, lr=train.lr,
                       betas=train.betas, eval_chunk=eval_chunk, target_loss=train.target_loss)


def exact_epochs(epochs: int) -> dict[str, int | float]:
    """The stopping-rule fields of a TrainConfig for exactly `epochs` epochs: the rule cannot fire
    (patience ≥ epochs)."""
    return {"max_epochs": epochs, "patience": epochs, "min_delta": 0.0}


def budget_config(train: Train, eval_chunk: int, epochs: int) -> TrainConfig:
    """`fixed_budget` built from the `train` section without reading its stopping-rule keys, so the stages
    it serves (the sweep, the warm start's LB runs) do not depend on them: `train`'s Adam and target loss."""
    return TrainConfig(lr=train.lr, betas=train.betas, eval_chunk=eval_chunk, target_loss=train.target_loss, **exact_epochs(epochs))


def fixed_budget(config: TrainConfig, epochs: int) -> TrainConfig:
    """`config` with exactly `epochs` epochs."""
    return replace(config, **exact_epochs(epochs))


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based; epoch 0 is the initial point x0
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    updates: int = 0  # parameter updates so far
    samples: int = 0  # training samples processed so far (updates × their batch sizes)
    batch_size: int = 0  # of the epoch's updates (0 for epoch 0)


@dataclass(frozen=True)
class LoopState:
    """Everything `train` needs to go on after `epoch` as if it had never stopped: the weights (and BN
    buffers), the optimizer's state, the sample-order generator, the dropout stream and the counters, with
    the records so far. Tensors are CPU copies except the optimizer's, which are the live ones: a snapshot
    handed to `on_snapshot` is valid during that call (save it there)."""

    epoch: int
    model: dict[str, torch.Tensor]
    optimizer: dict
    order_rng: torch.Tensor  # torch.Generator.get_state() of the sample order
    dropout_rng: torch.Tensor  # torch.get_rng_state() inside the run's forked stream
    cuda_rng: torch.Tensor | None  # the CUDA device's, when the run is on one
    epochs_done: float
    updates: int
    samples: int
    history: tuple[EpochRecord, ...]
    target: EpochRecord | None = None  # where the training loss first was ≤ the config's target_loss
    latest_loss: float | None = None  # the last full-training-set loss evaluated (the target's gate)


def diverged(record: EpochRecord) -> bool:
    """A non-finite training loss: the run has diverged (its weights overflowed) and will not come back, so
    training stops there and the run's metrics carry the non-finite loss."""
    return not math.isfinite(record.train_loss)


def should_stop(train_losses: Sequence[float], patience: int, min_delta: float) -> bool:
    """True when none of the last `patience` losses improved on the best earlier loss by more than
    `min_delta`, i.e. min(last patience) >= min(everything before) - min_delta, and the last loss is at
    most the median of those `patience` losses (the run is on its plateau, not on a transient spike)."""
    if len(train_losses) <= patience:
        return False
    best_before, window = min(train_losses[:-patience]), train_losses[-patience:]
    return min(window) >= best_before - min_delta and train_losses[-1] <= statistics.median(window)


def epoch_record(
    model: nn.Module, data: DataSet, epoch: int, chunk: int, updates: int = 0, samples: int = 0, batch_size: int = 0,
) -> EpochRecord:
    """Loss and accuracy of `model` on both splits (eval mode), labelled with `epoch` and the counts so far."""
    train, test = evaluate(model, data.train, chunk), evaluate(model, data.test, chunk)
    return EpochRecord(epoch, train.loss, train.accuracy, test.loss, test.accuracy, updates, samples, batch_size)


def train(
    model: nn.Module,
    data: DataSet,
    *,
    batch_size: int,
    config: TrainConfig,
    seed: int,
    recipe: Recipe = PLAIN,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    amp: bool = False,
    evaluate_every: int | None = None,
    resume_from: LoopState | None = None,
    on_snapshot: Callable[[LoopState], None] | None = None,
    workers: Workers | None = None,
    on_target: Callable[[EpochRecord], None] | None = None,
    on_epoch_done: Callable[[int], None] | None = None,
) -> list[EpochRecord]:
    """Train `model` in place on mini-batches of `batch_size` drawn without replacement.

    `model` and `data` must be on the same device. `recipe` (lbgap.train.recipe) sets the update step, the
    optimizer and the schedules; the default is plain Adam at a constant learning rate and batch size.
    `amp` runs each step under bfloat16 autocast on CUDA (lbgap.devices).
    `seed` fixes the order of the samples and the dropout masks (the initial weights are fixed by whoever
    built `model`).
    The last incomplete batch of an epoch is dropped so every step uses exactly the epoch's batch size.
    Returns one record per evaluated epoch, starting with epoch 0 (the untrained model). Whole-split
    evaluation costs about as much as an epoch of large-batch steps, so fixed-budget runs that only need
    the end point pass `evaluate_every` > 1 (default: the recipe's): records are then taken every that many
    epochs and after the last one, and `on_epoch` and the stopping rule see only those (patience counts records).
    `on_epoch_done(epoch)` is called after every epoch's steps, recorded or not (progress bars).
    `on_snapshot` receives a LoopState after every epoch that does not end the run; `resume_from` (one
    such state, for the same model, data, seed and recipe) continues the run from it, bit for bit on the CPU.
    `workers`: this process is one of several data-parallel workers (lbgap.train.parallel); `batch_size` is
    the global batch, each worker steps on its chunk, and every worker returns the same records.
    `on_target(record)` is called once per run (not again after a resume past it), with `model` at the
    first checked iterate whose training loss is ≤ `config.target_loss` (None: never), and that iterate's
    record: `epoch` is the epoch in progress, `updates` and `samples` locate it within the epoch. Checks:
    every epoch end (evaluating the training split where there is no record, so the point does not depend
    on `evaluate_every`) and, near the target, within epochs (module docstring).
    """
    every = recipe.evaluate_every if evaluate_every is None else evaluate_every
    if every < 1:
        raise ValueError(f"evaluate_every must be >= 1 (got {every})")
    n = len(data.train)
    check_batch_size(batch_size, n)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same sample order on every device
    device = data.train.x.device
    optimizer = recipe.optimizer(list(model.parameters()), config.lr, config.betas)
    initial_lr = [group["lr"] for group in optimizer.param_groups]  # the schedule's factor multiplies these
    stepped = model if workers is None else workers.wrap(model)
    # Dropout masks come from this run's seed, not from whatever ran before in the same process (C1–C4
    # have dropout); the caller's global RNG is left as it was. The stream is derived from the seed so it
    # does not replay the one that drew x0 (lbgap.models.build_model seeds with `seed` itself).
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(derived_seed(seed, "dropout", 0 if workers is None else workers.rank))  # own masks per worker
        if resume_from is None:
            history = [epoch_record(model, data, 0, config.eval_chunk)]
            first, epochs_done, updates, samples, reached = 1, 0.0, 0, 0, None
        else:
            history = list(resume_from.history)
            first, epochs_done, updates, samples = resume_from.epoch + 1, resume_from.epochs_done, resume_from.updates, resume_from.samples
            reached = resume_from.target
            _restore(resume_from, model, optimizer, generator, device)
        # the latest full-training-set loss evaluated (for the gate; a snapshot holds it, since epochs without
        # a record evaluate it too)
        latest_loss = history[-1].train_loss if resume_from is None or resume_from.latest_loss is None else resume_from.latest_loss

        def check_target(epoch: int, size: int, record: EpochRecord | None = None) -> None:
            """Evaluate (or take from `record`) the training loss now; at or below the target, hand the
            iterate over. Every worker agrees with rank 0, as for the stopping rule."""
            nonlocal reached, latest_loss
            if record is None:
                train_split = evaluate(model, data.train, config.eval_chunk)
                record = EpochRecord(epoch, train_split.loss, train_split.accuracy, math.nan, math.nan, updates, samples, size)
            latest_loss = record.train_loss
            hit = latest_loss <= config.target_loss
            if hit if workers is None else workers.agree(hit, device):
                if math.isnan(record.test_loss):
                    test = evaluate(model, data.test, config.eval_chunk)
                    record = replace(record, test_loss=test.loss, test_accuracy=test.accuracy)
                reached = record
                if on_target is not None:
                    on_target(reached)

        max_epochs = config.max_epochs if recipe.max_epochs is None else recipe.max_epochs
        for epoch in range(first, max_epochs + 1):
            size = batch_size if recipe.batch_size is None else check_batch_size(recipe.batch_size(epoch, model, data.train), n)
            if workers is not None:
                workers.check_batch_size(size)
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            steps = n // size
            near = reached is None and near_target(latest_loss, config.target_loss)
            within = set()  # after how many of this epoch's updates to check the target (not the last one)
            if near if workers is None else workers.agree(near, device):  # every worker checks at the same updates
                within = checked_updates(steps)
            for step, start in enumerate(range(0, n - size + 1, size), start=1):
                if recipe.learning_rate is not None:
                    factor = recipe.learning_rate(epochs_done)
                    for group, lr in zip(optimizer.param_groups, initial_lr):
                        group["lr"] = lr * factor
                index = order[start : start + size]
                if workers is not None:
                    index = workers.shard(index)
                with autocast(device, amp):
                    recipe.step(stepped, optimizer, data.train.x[index], data.train.y[index])
                epochs_done += 1 / steps
                updates, samples = updates + 1, samples + size
                if step in within and reached is None:
                    check_target(epoch, size)
            epochs_done = float(epoch)  # no drift from summing 1/steps
            if on_epoch_done is not None:
                on_epoch_done(epoch)
            recorded = epoch % every == 0 or epoch == max_epochs
            if recorded:
                history.append(epoch_record(model, data, epoch, config.eval_chunk, updates, samples, size))
                if on_epoch is not None:
                    on_epoch(history[-1])
            if reached is None and config.target_loss is not None:
                check_target(epoch, size, history[-1] if recorded else None)
            if recorded:
                stop = diverged(history[-1]) or (recipe.stopping_rule and should_stop(
                    [r.train_loss for r in history[1:]], config.patience, config.min_delta))
                if stop if workers is None else workers.agree(stop, device):
                    break
            if on_snapshot is not None and epoch < max_epochs:
                on_snapshot(_snapshot(epoch, model, optimizer, generator, device, epochs_done, updates, samples, history, reached, latest_loss))
    model.eval()
    return history


def _snapshot(
    epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator, device: torch.device,
    epochs_done: float, updates: int, samples: int, history: list[EpochRecord], target: EpochRecord | None,
    latest_loss: float,
) -> LoopState:
    return LoopState(
        epoch, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, optimizer.state_dict(),
        generator.get_state(), torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        epochs_done, updates, samples, tuple(history), target, latest_loss,
    )


def _restore(
    state: LoopState, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator, device: torch.device,
) -> None:
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    generator.set_state(state.order_rng)
    torch.set_rng_state(state.dropout_rng)
    if device.type == "cuda" and state.cuda_rng is not None:
        torch.cuda.set_rng_state(state.cuda_rng, device)


def target_fields(record: EpochRecord | None) -> tuple:
    """(epoch, updates, train loss, test accuracy) of a target iterate's record; Nones when there is none."""
    return (None,) * 4 if record is None else (record.epoch, record.updates, record.train_loss, record.test_accuracy)


def check_batch_size(batch_size: int, n: int) -> int:
    """`batch_size`, or ValueError when it is not in [1, n] (n training samples)."""
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size must be in [1, {n}] (got {batch_size})")
    return batch_size
