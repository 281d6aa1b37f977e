"""One remedy's training (stages mitigate@<name>): its seeds at the large batch, and at the small batch too
for a change of training compared at both batch sizes (an optimizer, an initialization). The stage then
surveys every solution's sharpness as for plain training and draws the path from an SB solution to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

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

    def recipe(self, seed: int, batch_size: int, *, train_size: int, sb_epochs: int | None) -> Recipe:
        """How run `seed` trains at `batch_size` (`sb_epochs`: the epochs train@sb's run of this seed trained,
        for the remedies that match it)."""
        run = Run(seed=seed, data_name=self.data_name, batch_size=batch_size, small_batch=self.small_batch,
                  large_batch=self.large_batch, train_size=train_size, max_epochs=self.config.max_epochs, sb_epochs=sb_epochs)
        return self.strategy.make_recipe(self.options, run)

    def check(self, train_size: int, sb_epochs: Mapping[int, int]) -> None:
        """Build every run's recipe before any trains: what only the real sizes reveal (a seed with no SB
        run to match) is a ValueError now rather than after hours. Factories draw no random numbers."""
        for seed in range(self.seeds):
            for batch_size in self.batches.values():
                self.recipe(seed, batch_size, train_size=train_size, sb_epochs=sb_epochs.get(seed))


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
    """Regime → (its training results: per-seed final metrics with updates, samples and wall seconds, and
    their mean ± std; the Checkpoint of each seed), every checkpoint handed to `keep(regime, checkpoint)`."""
    trained = {}
    for regime, batch_size in remedy.batches.items():
        finals, solutions = [], []
        runs = train_seeds(
            new_model, data, batch_size=batch_size, seeds=remedy.seeds, config=remedy.config, amp=remedy.amp,
            recipe_for_seed=lambda seed, b=batch_size: remedy.recipe(seed, b, train_size=len(data.train), sb_epochs=sb_epochs.get(seed)),
            on_epoch=on_epoch, resume=resume.get(regime),
        )
        for checkpoint, _, final, _ in runs:
            finals.append(final)
            keep(regime, checkpoint)
            solutions.append(checkpoint)
        trained[regime] = ({"per_seed": finals, "summary": summarize(finals, SUMMARY_KEYS)}, solutions)
    return trained


def path_endpoints(trained: Mapping[str, tuple[dict, list[Checkpoint]]], plain_sb: Checkpoint, seed: int,
                   name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], str]:
    """The parametric plot's ends (α = 0, α = 1) for run `seed`, and the label of α = 0: from the remedy's
    own SB run when it has one (an optimizer, an initialization), else from plain SB."""
    small, label = (trained["sb"][1][seed].final, f"SB {name}") if "sb" in trained else (plain_sb.final, "SB")
    return small, trained["lb"][1][seed].final, label
