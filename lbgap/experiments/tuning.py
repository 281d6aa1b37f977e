"""Choosing a remedy's options on the validation split (stages tune@<name>): every point of its declared
grid trains the remedy's large-batch runs on the training split, each is scored by its mean validation
accuracy at the end of training, and the best point (the first, on a tie) is the choice. Every remedy's
grid has the same number of points and every point the same seeds and stopping rule: an equal search
budget. The data handed in hold the validation split where training code expects its held-out split
(lbgap.data.tuning_from_arrays); the test split is not among them.

The tuning runs draw their initial points and batch orders from seeds FIRST_SEED, FIRST_SEED + 1, …, none
of which is a run the study reports (those are 0 .. seeds − 1): were the choice made on seed 0's own run,
the final seed-0 run would be the best of the grid on the validation split (a winner's curse) while plain
LB's seed 0 had no such choice."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from torch import nn

from lbgap.data import DataSet
from lbgap.experiments.remedy import Remedy
from lbgap.train.loop import EpochRecord
from lbgap.train.seeds import train_seeds

FIRST_SEED = 1000
TRIAL_KEYS = ("validation_accuracy", "validation_loss", "train_loss", "train_accuracy", "epoch", "updates", "seconds")


def tune_remedy(
    remedy_at: Callable[[Mapping[str, Any]], Remedy],
    points: Sequence[Mapping[str, Any]],
    new_model: Callable[[int], nn.Module],
    data: DataSet,
    *,
    sb_epochs: Mapping[int, int],
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
) -> dict:
    """{'trials': one row per point (its options, per-seed and mean validation accuracy, ...), 'chosen':
    the options of the point with the best mean validation accuracy}. `remedy_at(point)`: the remedy
    with the point's options; its LB runs (seeds FIRST_SEED .. FIRST_SEED + remedy.seeds − 1) train on
    `data.train` and are scored on `data.test` (the validation split). `sb_epochs`: seed → the epochs of
    the SB run a remedy that matches SB's updates matches (`tuning_sb_epochs`)."""
    trials = []
    for point in points:
        remedy = remedy_at(point)
        runs = train_seeds(
            new_model, data, batch_size=remedy.large_batch, seeds=remedy.seeds, config=remedy.config, amp=remedy.amp,
            recipe_for_seed=lambda seed: remedy.recipe(seed, "lb", train_size=len(data.train), sb_epochs=sb_epochs.get(seed)),
            on_epoch=on_epoch, first_seed=FIRST_SEED,
        )
        per_seed = [_renamed(final) for _, _, final, _ in runs]
        trials.append({
            "options": dict(point), "per_seed": per_seed,
            **{f"mean_{key}": float(np.mean([run[key] for run in per_seed])) for key in TRIAL_KEYS},
        })
    best = max(range(len(trials)), key=lambda i: (trials[i]["mean_validation_accuracy"], -i))
    return {"trials": trials, "chosen": dict(points[best]), "chosen_trial": best}


def tuning_sb_epochs(stopped_at: int, seeds: int) -> dict[int, int]:
    """seed → SB epochs for the tuning runs: each matches `stopped_at`, the epochs train@sb's seed-0 run
    trained (the tuning seeds have no SB run of their own)."""
    return {FIRST_SEED + k: stopped_at for k in range(seeds)}


def _renamed(final: Mapping[str, Any]) -> dict:
    """A run's final metrics with its held-out split called what it is here: validation."""
    held_out = {"validation_accuracy": "test_accuracy", "validation_loss": "test_loss"}
    return {"seed": final["seed"], **{key: final[held_out.get(key, key)] for key in TRIAL_KEYS}}
