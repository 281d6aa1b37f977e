"""One run per seed: the networks of a regime (or a remedy), each from its own initial point and sample
order, trained by the same loop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Iterator

from torch import nn

from lbgap.data import DataSet
from lbgap.tensors import distance, parameters_of
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.loop import EpochRecord, Step, TrainConfig, plain_step, train

FINAL_KEYS = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "distance_from_x0", "epoch"]


def _cpu(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def train_seeds(
    make_model: Callable[[int], nn.Module],
    data: DataSet,
    *,
    batch_size: int,
    seeds: int,
    config: TrainConfig,
    amp: bool,
    step_for_seed: Callable[[int], Step] = lambda seed: plain_step,
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
) -> Iterator[tuple[Checkpoint, dict, list[dict]]]:
    """Train seeds 0 .. seeds-1 in turn: `make_model(seed)` draws the initial point (on `data`'s device),
    `step_for_seed(seed)` the update. Yields per seed its Checkpoint (CPU tensors), its final metrics
    (the last record with ‖x − x0‖, keys FINAL_KEYS and 'seed') and every epoch's record as dicts."""
    for seed in range(seeds):
        model = make_model(seed)
        x0 = _cpu(model)
        history = train(
            model, data, batch_size=batch_size, config=config, seed=seed, step=step_for_seed(seed), amp=amp,
            on_epoch=None if on_epoch is None else (lambda record, seed=seed: on_epoch(seed, record)),
        )
        model.cpu()
        final = {"seed": seed, **asdict(history[-1]), "distance_from_x0": distance(parameters_of(model), x0)}
        checkpoint = Checkpoint(x0, {k: v.detach().clone() for k, v in model.state_dict().items()}, batch_size, seed)
        yield checkpoint, final, [{"seed": seed, **asdict(r)} for r in history]
