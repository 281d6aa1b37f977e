"""One run per seed: the networks of a regime (or a remedy), each from its own initial point and sample
order, trained by the same loop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Collection, Iterator

from torch import nn

from lbgap.data import DataSet
from lbgap.tensors import distance, parameters_of
from lbgap.train.checkpoint import Checkpoint, Iterates, cpu_state
from lbgap.train.loop import EpochRecord, TrainConfig, train
from lbgap.train.recipe import PLAIN, Recipe
from lbgap.train.together import train_together

FINAL_KEYS = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "distance_from_x0", "epoch"]


def train_seeds(
    make_model: Callable[[int], nn.Module],
    data: DataSet,
    *,
    batch_size: int,
    seeds: int,
    config: TrainConfig,
    amp: bool,
    recipe_for_seed: Callable[[int], Recipe] = lambda seed: PLAIN,
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
    keep_epochs: Collection[int] = (),
    together: bool = False,
) -> Iterator[tuple[Checkpoint, Iterates, dict, list[dict]]]:
    """Train seeds 0 .. seeds-1 in turn: `make_model(seed)` draws the initial point (on `data`'s device),
    `recipe_for_seed(seed)` how it trains (lbgap.train.recipe; its `prepare` is applied to the built network
    before x0 is taken). Yields per seed its Checkpoint (CPU tensors), its Iterates (x0 and
    the weights after each epoch of `keep_epochs` that the run reached), its final metrics (the last
    record with ‖x − x0‖, keys FINAL_KEYS and 'seed') and every epoch's record as dicts.
    `together`: all seeds at once (lbgap.train.together; plain steps only, see `fits_together`)."""
    if together:
        if not recipe_for_seed(0).is_plain:
            raise ValueError("seeds train together with plain Adam steps only (a remedy's recipe trains one by one)")
        yield from _train_together(make_model, data, batch_size=batch_size, seeds=seeds, config=config, amp=amp,
                                   on_epoch=on_epoch, keep_epochs=keep_epochs)
        return
    for seed in range(seeds):
        recipe = recipe_for_seed(seed)
        model = make_model(seed) if recipe.prepare is None else recipe.prepare(make_model(seed))
        x0 = cpu_state(model)
        iterates: dict[int, dict] = {}

        def visit(record: EpochRecord, seed: int = seed) -> None:
            if record.epoch in keep_epochs:
                iterates[record.epoch] = cpu_state(model)
            if on_epoch is not None:
                on_epoch(seed, record)

        history = train(model, data, batch_size=batch_size, config=config, seed=seed, recipe=recipe, amp=amp,
                        on_epoch=visit)
        model.cpu()
        yield _finished(model, x0, history, iterates, batch_size, seed)


def _finished(
    model: nn.Module, x0: dict, history: list[EpochRecord], iterates: dict, batch_size: int, seed: int,
) -> tuple[Checkpoint, Iterates, dict, list[dict]]:
    final = {"seed": seed, **asdict(history[-1]), "distance_from_x0": distance(parameters_of(model), x0)}
    kept = Iterates(seed, history[-1].epoch, {0: x0, **iterates})
    return Checkpoint(x0, cpu_state(model), batch_size, seed), kept, final, [{"seed": seed, **asdict(r)} for r in history]


def _train_together(
    make_model: Callable[[int], nn.Module], data: DataSet, *, batch_size: int, seeds: int, config: TrainConfig, amp: bool,
    on_epoch: Callable[[int, EpochRecord], None] | None, keep_epochs: Collection[int],
) -> Iterator[tuple[Checkpoint, Iterates, dict, list[dict]]]:
    models = [make_model(seed) for seed in range(seeds)]
    x0s = [cpu_state(model) for model in models]
    histories, kept = train_together(
        models, data, batch_size=batch_size, config=config, seeds=list(range(seeds)), on_epoch=on_epoch,
        keep_epochs=keep_epochs, amp=amp,
    )
    for seed, model in enumerate(models):
        model.cpu()
        yield _finished(model, x0s[seed], histories[seed], kept[seed], batch_size, seed)
