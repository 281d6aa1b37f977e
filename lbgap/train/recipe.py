"""How one run trains, beyond its data, initial point and batch size: the update step, the optimizer,
a learning-rate schedule, a batch-size schedule and how often it is evaluated. Plain SB/LB training is
`PLAIN` (Adam, constant learning rate, one batch size); the remedies of lbgap.remedies build others.

Schedules are functions of training progress, so the loop stays one loop:
- `learning_rate(epochs_done) -> factor`: the step's learning rate is the optimizer's own × `factor`, with
  `epochs_done` fractional (the updates done so far ÷ the updates per epoch at the current batch size);
- `batch_size(epoch, model, train_split) -> size`: the batch size of epoch `epoch` (1-based), chosen before
  the epoch starts (model and data are passed for rules that measure them, e.g. the gradient noise scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from lbgap.data import Split

# One optimization step on a batch: (model, optimizer, inputs, labels) -> the batch's training loss.
Step = Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor], torch.Tensor]
# (the trainable tensors, learning rate, Adam betas) -> the optimizer of one run
OptimizerFactory = Callable[[list[torch.Tensor], float, tuple[float, float]], torch.optim.Optimizer]
LearningRate = Callable[[float], float]
BatchSchedule = Callable[[int, nn.Module, Split], int]


def adam(parameters: list[torch.Tensor], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam, as in the paper. Fused (one kernel for all tensors' updates) on the CPU and CUDA: the same
    update rule, about 13 % less time per SB step on the 2-core CPU (docs/performance.md)."""
    fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
    return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=fused or None)


def plain_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the batch, one gradient, one optimizer step."""
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


@dataclass(frozen=True)
class Recipe:
    step: Step = plain_step
    optimizer: OptimizerFactory = adam
    learning_rate: LearningRate | None = None  # None: the optimizer's learning rate throughout
    batch_size: BatchSchedule | None = None  # None: the run's batch size every epoch
    evaluate_every: int = 1  # epochs between records (the stopping rule's patience counts records)
    max_epochs: int | None = None  # None: the config's; else this budget
    stopping_rule: bool = True  # False: the run trains its whole budget (a divergence still ends it)
    # the network as trained, from the one built for the seed (re-initialized, BatchNorm replaced, …): applied
    # by lbgap.train.seeds before x0 is taken; its state_dict must keep the built network's names and shapes
    prepare: Callable[[nn.Module], nn.Module] | None = None
    # False when the step or a schedule keeps state between epochs that a LoopState does not hold (its own
    # random generator, a batch size it adapted): an interrupted run of it restarts from x0 (lbgap.train.resume)
    resumable: bool = True

    @property
    def is_plain(self) -> bool:
        return self == PLAIN


PLAIN = Recipe()


def warmup_scaling(scale: float, warmup_epochs: float) -> LearningRate:
    """Factor 1 at the start, rising linearly to `scale` over `warmup_epochs` epochs, then `scale`
    (Goyal et al. 2017's gradual warm-up; `warmup_epochs` 0 applies `scale` from the first step)."""

    def factor(epochs_done: float) -> float:
        if warmup_epochs <= 0 or epochs_done >= warmup_epochs:
            return scale
        return 1.0 + (scale - 1.0) * epochs_done / warmup_epochs

    return factor
