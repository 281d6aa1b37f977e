"""One remedy's training (stages mitigate@<name>): its seeds at the large batch, and at the small batch too
for a change of the training method (its own control; the growing batch's decaying-rate baseline). The stage then
surveys every solution's sharpness as for plain training and draws the path from an SB solution to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from lbgap.data import DataSet
from lbgap.remedies.registry import Run, Strategy
from lbgap.results import summarize
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.loop import EpochRecord, TrainConfig
from lbgap.train.recipe import Recipe
from lbgap.train.resume import ResumeFolder
from lbgap.train.seeds import FINAL_KEYS, train_seeds

SUMMARY_KEYS = [*FINAL_KEYS, "updates", "samples", "seconds"]


@dataclass(frozen=True)
class Remedy:
    """A registered remedy with its options, and what each of its runs shares."""

    strategy: Strategy
    options: Any  # an instance of strategy.options (`mitigation.<name>`)
    data_name: str  # augmentation depends on it
    small_batch: int  # schedules start there; a change compared at both batch sizes also trains at it
    large_batch: int
    seeds: int  # runs 0 .. seeds-1 at each batch size
    config: TrainConfig
    amp: bool

    @property
    def batches(self) -> dict[str, int]:
        """Regime → batch size of the runs it trains: LB, and SB for a change compared at both."""
        return {"lb": self.large_batch} | ({"sb": self.small_batch} if self.strategy.with_small_batch else {})

    def recipe(self, seed: int, regime: str, *, train_size: int, sb_epochs: int | None) -> Recipe:
        """How run `seed` of `regime` ("lb", or "sb" for the own control) trains (`sb_epochs`: the epochs
        train@sb's run of this seed trained, for the remedies that match it)."""
        run = Run(seed=seed, data_name=self.data_name, batch_size=self.batches[regime], regime=regime,
                  small_batch=self.small_batch, large_batch=self.large_batch, train_size=train_size,
                  max_epochs=self.config.max_epochs, sb_epochs=sb_epochs)
        return self.strategy.make_recipe(self.options, run)

    def check(self, train_size: int, sb_epochs: Mapping[int, int], first_seed: int = 0) -> None:
        """Build every run's recipe (seeds first_seed .. first_seed + seeds − 1) before any trains: what only
        the real sizes reveal (a seed with no SB run to match) is a ValueError now rather than after hours.
        Factories draw no random numbers."""
        for seed in range(first_seed, first_seed + self.seeds):
            for regime in self.batches:
                self.recipe(seed, regime, train_size=train_size, sb_epochs=sb_epochs.get(seed))


def train_remedy(
    remedy: Remedy,
    new_model: Callable[[int], nn.Module],
    data: DataSet,
    *,
    sb_epochs: Mapping[int, int],
    resume: Mapping[str, ResumeFolder | None],
    keep: Callable[[str, Checkpoint], None],
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
) -> dict[str, tuple[dict, list[Checkpoint]]]:
    """Regime → (its training results: per-seed final metrics with updates, samples and wall seconds, their
    mean ± std, and each seed's [epoch, test accuracy] at every record (for comparisons at equal epochs); the
    Checkpoint of each seed), every checkpoint handed to `keep(regime, checkpoint)`."""
    trained = {}
    for regime, batch_size in remedy.batches.items():
        finals, solutions = [], []
        runs = train_seeds(
            new_model, data, batch_size=batch_size, seeds=remedy.seeds, config=remedy.config, amp=remedy.amp,
            recipe_for_seed=lambda seed, r=regime: remedy.recipe(seed, r, train_size=len(data.train), sb_epochs=sb_epochs.get(seed)),
            on_epoch=on_epoch, resume=resume.get(regime),
        )
        accuracy_by_epoch = {}
        for checkpoint, _, final, records in runs:
            finals.append(final)
            keep(regime, checkpoint)
            solutions.append(checkpoint)
            accuracy_by_epoch[str(final["seed"])] = [[record["epoch"], record["test_accuracy"]] for record in records]
        trained[regime] = ({"per_seed": finals, "summary": summarize(finals, SUMMARY_KEYS),
                            "test_accuracy_by_epoch": accuracy_by_epoch}, solutions)
    return trained


def remedy_epsilons(epsilons: Sequence[float]) -> tuple[float, ...]:
    """The box sizes ε a remedy's solutions are measured at: the first of `sharpness.epsilons`, the one
    the report's remedy table compares (the others would double the stage's measuring for no table)."""
    return tuple(epsilons[:1])


def path_endpoints(trained: Mapping[str, tuple[dict, list[Checkpoint]]], plain_sb: Checkpoint, seed: int,
                   name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], str]:
    """The parametric plot's ends (α = 0, α = 1) for run `seed`, and the label of α = 0: from the remedy's
    own SB run when it has one (a change of the training method), else from plain SB."""
    small, label = (trained["sb"][1][seed].final, f"SB {name}") if "sb" in trained else (plain_sb.final, "SB")
    return small, trained["lb"][1][seed].final, label
