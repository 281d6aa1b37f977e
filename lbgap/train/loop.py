"""Mini-batch training with Adam until the training loss stops improving (paper §2.2 protocol).

Small-batch (SB) and large-batch (LB) runs use this same loop and the same optimizer settings; only
the batch size differs, as in the paper (the learning rate is not retuned for LB).

Stopping rule. The paper trains "until the loss stopped improving". We approximate that with the
full-training-set loss measured in eval mode after every epoch: training stops after `patience`
consecutive epochs in which that loss did not fall more than `min_delta` nats below the best value
seen before them, or at `max_epochs`, whichever comes first. The threshold is absolute on purpose:
with Adam the LB loss keeps shrinking geometrically for hundreds of epochs after the fit is complete,
so any relative rule would never fire. The weights returned are the last iterate (not the
best one), since the study is about where the optimizer ends up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lbgap.data import DataSet
from lbgap.devices import autocast
from lbgap.train.evaluation import evaluate


STREAMS = {"dropout": 1, "attack": 2}  # independent random streams derived from one run seed


def derived_seed(seed: int, stream: str) -> int:
    """A seed for `stream` of run `seed`, independent of the seed itself and of the other streams
    (numpy's SeedSequence hashing: no correlation between nearby seeds)."""
    return int(np.random.SeedSequence([seed, STREAMS[stream]]).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass(frozen=True)
class TrainConfig:
    max_epochs: int
    patience: int  # epochs without sufficient improvement before stopping
    min_delta: float  # improvement of the best training loss (nats) that counts
    lr: float
    betas: tuple[float, float]
    eval_chunk: int  # samples per forward pass when evaluating whole splits


def adam(parameters: list[torch.Tensor], config: TrainConfig) -> torch.optim.Adam:
    """Adam with `config`'s learning rate and betas. Fused (one kernel for all tensors' updates) on the CPU
    and CUDA: the same update rule, about 13 % less time per SB step on the 2-core CPU (docs/performance.md)."""
    fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
    return torch.optim.Adam(parameters, lr=config.lr, betas=config.betas, fused=fused or None)


def fixed_budget(config: TrainConfig, epochs: int) -> TrainConfig:
    """`config` with exactly `epochs` epochs: the stopping rule cannot fire (patience ≥ epochs)."""
    return replace(config, max_epochs=epochs, patience=epochs)


# One optimization step on a batch: (model, optimizer, inputs, labels) -> the batch's training loss.
# Mitigation strategies (lbgap.remedies, via lbgap.remedies.registry) supply their own; plain SB/LB training uses `plain_step`.
Step = Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor], torch.Tensor]


def plain_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the batch, one gradient, one optimizer step."""
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based; epoch 0 is the initial point x0
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float


def should_stop(train_losses: Sequence[float], patience: int, min_delta: float) -> bool:
    """True when none of the last `patience` losses improved on the best earlier loss by more than
    `min_delta`, i.e. min(last patience) >= min(everything before) - min_delta."""
    if len(train_losses) <= patience:
        return False
    best_before = min(train_losses[:-patience])
    return min(train_losses[-patience:]) >= best_before - min_delta


def epoch_record(model: nn.Module, data: DataSet, epoch: int, chunk: int) -> EpochRecord:
    """Loss and accuracy of `model` on both splits (eval mode), labelled with `epoch`."""
    train, test = evaluate(model, data.train, chunk), evaluate(model, data.test, chunk)
    return EpochRecord(epoch, train.loss, train.accuracy, test.loss, test.accuracy)


def train(
    model: nn.Module,
    data: DataSet,
    *,
    batch_size: int,
    config: TrainConfig,
    seed: int,
    step: Step = plain_step,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    amp: bool = False,
    evaluate_every: int = 1,
) -> list[EpochRecord]:
    """Train `model` in place with Adam on mini-batches of `batch_size` drawn without replacement.

    `model` and `data` must be on the same device. `step` performs the update on each batch (default:
    a plain Adam step); `amp` runs it under bfloat16 autocast on CUDA (lbgap.devices).
    `seed` fixes the order of the samples and the dropout masks (the initial weights are fixed by whoever
    built `model`).
    The last incomplete batch of an epoch is dropped so every step uses exactly `batch_size` samples.
    Returns one record per evaluated epoch, starting with epoch 0 (the untrained model). Whole-split
    evaluation costs about as much as an epoch of large-batch steps, so fixed-budget runs that only need
    the end point pass `evaluate_every` > 1: records are then taken every that many epochs and after the
    last one, and `on_epoch` and the stopping rule see only those (patience counts records).
    """
    if evaluate_every < 1:
        raise ValueError(f"evaluate_every must be >= 1 (got {evaluate_every})")
    n = len(data.train)
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size must be in [1, {n}] (got {batch_size})")
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same sample order on every device
    device = data.train.x.device
    optimizer = adam(list(model.parameters()), config)
    # Dropout masks come from this run's seed, not from whatever ran before in the same process (C1–C4
    # have dropout); the caller's global RNG is left as it was. The stream is derived from the seed so it
    # does not replay the one that drew x0 (lbgap.models.build_model seeds with `seed` itself).
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(derived_seed(seed, "dropout"))
        history = [epoch_record(model, data, 0, config.eval_chunk)]
        for epoch in range(1, config.max_epochs + 1):
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            for start in range(0, n - batch_size + 1, batch_size):
                index = order[start : start + batch_size]
                with autocast(device, amp):
                    step(model, optimizer, data.train.x[index], data.train.y[index])
            if epoch % evaluate_every and epoch < config.max_epochs:
                continue
            history.append(epoch_record(model, data, epoch, config.eval_chunk))
            if on_epoch is not None:
                on_epoch(history[-1])
            if should_stop([r.train_loss for r in history[1:]], config.patience, config.min_delta):
                break
    model.eval()
    return history
