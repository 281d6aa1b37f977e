"""Warm-started large-batch training ("piggybacking", paper §4).

An SB run's iterates every `every` epochs (epoch 0 included) are each continued by an LB run with a
fixed budget. The paper found: after few SB epochs the LB solution is as sharp and tests as badly as a
cold LB run; after enough SB epochs it reaches SB-level accuracy with lower sharpness — the motivation
for growing the batch during training.

The SB iterates are those the train stage kept from its own SB run (lbgap.train.seeds `keep_epochs`):
up to the epoch it stopped at, that run passes through exactly the iterates of a fixed-budget SB run
with the same seed, so the SB part is not trained twice. Each LB run starts a fresh Adam (no moment
estimates carried over), with the iterate's weights and BatchNorm statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from lbgap.data import DataSet
from lbgap.measures.sharpness import Sharpness, measure_at
from lbgap.train.checkpoint import cpu_state
from lbgap.train.loop import TrainConfig, fixed_budget, target_fields, train


@dataclass(frozen=True)
class WarmStartPoint:
    sb_epochs: int  # SB epochs before the switch to LB
    sb_train_loss: float
    sb_test_accuracy: float  # fraction, the SB iterate itself
    lb_train_loss: float
    lb_test_accuracy: float  # fraction, after the LB budget
    lb_sharpness: float  # φ of the warm-started LB solution
    lb_sharpness_levelled_off: bool  # the maximizer's certificate held (lbgap.measures.sharpness)
    lb_target_epoch: int | None  # the LB epoch in which training loss first was ≤ train.target_loss (None: not reached)
    lb_target_updates: int | None  # LB updates taken when it was
    lb_target_train_loss: float | None
    lb_target_test_accuracy: float | None  # fraction
    lb_sharpness_at_target: float | None  # φ of that LB iterate
    lb_sharpness_at_target_levelled_off: bool | None


def warm_start(
    model: nn.Module,
    data: DataSet,
    sb_iterates: Sequence[tuple[int, Mapping[str, torch.Tensor]]],
    *,
    large_batch: int,
    lb_epochs: int,
    config: TrainConfig,
    seed: int,
    measure: Callable[[nn.Module], Sharpness],
    amp: bool = False,
    on_point: Callable[[WarmStartPoint], None] | None = None,
    keep: Callable[[int, dict[str, torch.Tensor], tuple[int, dict[str, torch.Tensor]] | None], None] | None = None,
    on_epoch_done: Callable[[int], None] | None = None,
) -> list[WarmStartPoint]:
    """From each (SB epochs, state_dict) of `sb_iterates`, train `lb_epochs` epochs with `large_batch`
    (sample order from `seed`) and measure the LB solution with `measure(model)`, at its end and at the first
    LB epoch whose training loss reached `config.target_loss`; `keep` receives (SB epochs, the LB solution's
    state_dict on the CPU, (that epoch, its state_dict) or None). `model` is left at the last LB solution."""
    points = []
    for sb_epochs, state in sb_iterates:
        model.load_state_dict(state)
        at_target: dict = {}
        history = train(
            model, data, batch_size=large_batch, config=fixed_budget(config, lb_epochs), seed=seed, amp=amp,
            evaluate_every=lb_epochs, on_epoch_done=on_epoch_done,
            on_target=lambda record: at_target.update(record=record, state=cpu_state(model)),
        )
        sb_record, lb_end = history[0], history[-1]  # the record of the start point is the SB iterate's
        phi = measure(model)
        phi_at = measure_at(model, at_target["state"], measure) if at_target else None
        point = WarmStartPoint(
            sb_epochs, sb_record.train_loss, sb_record.test_accuracy, lb_end.train_loss, lb_end.test_accuracy, phi.phi,
            phi.levelled_off, *target_fields(at_target.get("record")), None if phi_at is None else phi_at.phi,
            None if phi_at is None else phi_at.levelled_off,
        )
        points.append(point)
        if keep is not None:
            keep(sb_epochs, cpu_state(model), (at_target["record"].epoch, at_target["state"]) if at_target else None)
        if on_point is not None:
            on_point(point)
    return points
