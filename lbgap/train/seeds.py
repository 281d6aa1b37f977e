"""One run per seed: the networks of a regime (or a remedy), each from its own initial point and sample
order, trained by the same loop."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Collection, Iterator

from torch import nn

from lbgap.data import DataSet
from lbgap.tensors import distance, parameters_of
from lbgap.train.checkpoint import Checkpoint, Iterates, cpu_state
from lbgap.train.loop import EpochRecord, LoopState, TrainConfig, train
from lbgap.train.parallel import Workers
from lbgap.train.recipe import PLAIN, Recipe
from lbgap.train.resume import ResumeFolder
from lbgap.train.together import fits_together, train_together

FINAL_KEYS = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "distance_from_x0", "epoch"]
TARGET_FIELDS = ["epoch", "updates", "train_loss", "train_accuracy", "test_accuracy"]  # of the target iterate's record


@dataclass(frozen=True)
class SeedPlan:
    together: bool  # every seed at once in this process (lbgap.train.together)
    resumable: bool  # seed by seed in one process: an interruption continues where it stopped (lbgap.train.resume)


def plan_seeds(model: nn.Module, input_shape: tuple[int, ...], batch_size: int, seeds: int, free_bytes: int | None,
               workers: Workers | None) -> SeedPlan:
    """How `train_seeds` trains a regime's seeds: together when they fit (`fits_together`) and one process
    trains, else one after the other. Only one process training seed by seed resumes: seeds trained together
    and data-parallel runs restart, since each worker's dropout stream and device would have to be saved and
    agreed on by all of them, on every machine."""
    together = workers is None and fits_together(model, input_shape, batch_size, seeds, free_bytes)
    return SeedPlan(together=together, resumable=not together and workers is None)


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
    resume: ResumeFolder | None = None,
    workers: Workers | None = None,
    first_seed: int = 0,
) -> Iterator[tuple[Checkpoint, Iterates, dict, list[dict]]]:
    """Train seeds first_seed .. first_seed + seeds - 1 in turn: `make_model(seed)` draws the initial point (on `data`'s device),
    `recipe_for_seed(seed)` how it trains (lbgap.train.recipe; its `prepare` is applied to the built network
    before x0 is taken). Yields per seed its Checkpoint (CPU tensors; with the weights where the training
    loss first reached `config.target_loss`, when it did), its Iterates (x0 and
    the weights after each epoch of `keep_epochs` that the run reached), its final metrics (the last
    record with ‖x − x0‖ and the wall seconds the run took, keys FINAL_KEYS, 'target_<f>' for f in
    TARGET_FIELDS (None when the run never reached the target), 'seed' and 'seconds') and every epoch's
    record as dicts.
    `together`: all seeds at once (lbgap.train.together; plain steps only, see `fits_together`).
    `resume`: keep each finished seed and a snapshot after every epoch there, and continue from what an
    interrupted run left (lbgap.train.resume; a recipe that is not `resumable` restarts its seed).
    `workers`: data-parallel training, this process being one worker (lbgap.train.parallel)."""
    if together:
        if first_seed:
            raise ValueError("seeds train together from seed 0 only")
        if not recipe_for_seed(0).is_plain:
            raise ValueError("seeds train together with plain Adam steps only (a remedy's recipe trains one by one)")
        yield from _train_together(make_model, data, batch_size=batch_size, seeds=seeds, config=config, amp=amp,
                                   on_epoch=on_epoch, keep_epochs=keep_epochs)
        return
    for seed in range(first_seed, first_seed + seeds):
        if resume is not None and (done := resume.finished(seed)) is not None:
            yield done
            continue
        recipe = recipe_for_seed(seed)
        model = make_model(seed) if recipe.prepare is None else recipe.prepare(make_model(seed))
        x0, iterates, spent, state, at_target = cpu_state(model), {}, 0.0, None, {}
        if resume is not None and recipe.resumable and (found := resume.progress(seed)) is not None:
            state, x0, spent, iterates = found
            if state.target is not None:  # reached before the interruption: its weights were saved then
                if (weights := resume.target(seed)) is None:
                    state, x0, spent, iterates = None, cpu_state(model), 0.0, {}  # lost: the seed starts over
                else:
                    at_target.update(record=state.target, weights=weights)
        clock = time.perf_counter()

        def reach(record: EpochRecord, seed: int = seed, at_target: dict = at_target) -> None:
            at_target.update(record=record, weights=cpu_state(model))
            if resume is not None:
                resume.save_target(seed, at_target["weights"])

        def visit(record: EpochRecord, seed: int = seed) -> None:
            if record.epoch in keep_epochs:
                iterates[record.epoch] = cpu_state(model)
                if resume is not None:
                    resume.save_iterate(seed, record.epoch, iterates[record.epoch])
            if on_epoch is not None:
                on_epoch(seed, record)

        def snapshot(loop: LoopState, seed: int = seed, x0: dict = x0, start: float = clock - spent) -> None:
            resume.save_progress(seed, loop, x0, time.perf_counter() - start)

        history = train(model, data, batch_size=batch_size, config=config, seed=seed, recipe=recipe, amp=amp,
                        on_epoch=visit, resume_from=state, workers=workers, on_target=reach,
                        on_snapshot=snapshot if resume is not None and recipe.resumable else None)
        model.cpu()
        kept = {epoch: weights for epoch, weights in iterates.items() if epoch in keep_epochs}
        result = _finished(model, x0, history, kept, at_target, batch_size, seed, spent + time.perf_counter() - clock)
        if resume is not None:
            resume.save_finished(result)
        yield result


def _finished(
    model: nn.Module, x0: dict, history: list[EpochRecord], iterates: dict, at_target: dict, batch_size: int, seed: int,
    seconds: float,
) -> tuple[Checkpoint, Iterates, dict, list[dict]]:
    """`at_target`: {record, weights} of the first iterate at or below the target loss, or empty."""
    reached = at_target.get("record")
    final = {"seed": seed, **asdict(history[-1]), "distance_from_x0": distance(parameters_of(model), x0),
             **{f"target_{key}": None if reached is None else getattr(reached, key) for key in TARGET_FIELDS},
             "seconds": round(seconds, 2)}
    kept = Iterates(seed, history[-1].epoch, {0: x0, **iterates})
    checkpoint = Checkpoint(x0, cpu_state(model), batch_size, seed, at_target.get("weights"), None if reached is None else reached.epoch)
    return checkpoint, kept, final, [{"seed": seed, **asdict(r)} for r in history]


def _train_together(
    make_model: Callable[[int], nn.Module], data: DataSet, *, batch_size: int, seeds: int, config: TrainConfig, amp: bool,
    on_epoch: Callable[[int, EpochRecord], None] | None, keep_epochs: Collection[int],
) -> Iterator[tuple[Checkpoint, Iterates, dict, list[dict]]]:
    models = [make_model(seed) for seed in range(seeds)]
    x0s = [cpu_state(model) for model in models]
    clock = time.perf_counter()
    histories, kept, at_target = train_together(
        models, data, batch_size=batch_size, config=config, seeds=list(range(seeds)), on_epoch=on_epoch,
        keep_epochs=keep_epochs, amp=amp,
    )
    share = (time.perf_counter() - clock) / seeds  # one wall time for all seeds: each gets an equal share
    for seed, model in enumerate(models):
        model.cpu()
        reached = {} if at_target[seed] is None else dict(zip(("record", "weights"), at_target[seed]))
        yield _finished(model, x0s[seed], histories[seed], kept[seed], reached, batch_size, seed, share)
