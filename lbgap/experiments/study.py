"""The designed predictor study (Jiang et al. 2020; Dziugaite et al. 2020): networks trained over a grid of
hyperparameters — batch size, learning rate, width, depth, weight decay, dropout — each to the target
training loss, measured there, and scored by `lbgap.experiments.study_summary`.

A configuration is one point of the design; its runs differ in seed only (initial point, sample order,
dropout masks). Runs train one at a time through `lbgap.experiments.grid.train_cell` (SGD with momentum,
per-run weight decay), so a network with dropout trains as any other.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Callable, Mapping, Sequence

from torch import nn

from lbgap.data import DataSet, Split
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.experiments.grid import GridRun, train_cell
from lbgap.experiments.predictors import generalization, measures_of
from lbgap.measures.norms import norm_measures
from lbgap.measures.subspace import random_subspace
from lbgap.tensors import distance, parameters_of

AXES = ("batch_size", "learning_rate", "width", "depth", "weight_decay", "dropout")  # the design's hyperparameters
FIRST_SEED = 3000  # the study's runs draw x0, sample orders and dropout masks from 3000, 3001, …: none is reported elsewhere
# the baselines every measure must beat (Jiang et al.; the SDE theory's temperature in both scaling rules)
BASELINES = ("lr_over_batch", "lr_over_sqrt_batch", "steps_from_milestone", "distance_from_x0")
# columns of a study row that are neither a hyperparameter, a baseline nor a measure
OUTCOMES = ("seed", "reached", "diverged", "steps", "train_accuracy", "test_accuracy", "gap", "test_loss")


@dataclass(frozen=True)
class Configuration:
    batch_size: int
    learning_rate: float
    width: int
    depth: int
    weight_decay: float
    dropout: float  # probability of zeroing each hidden unit during training (0: no dropout layers)


def configurations(values: Mapping[str, Sequence]) -> list[Configuration]:
    """Every point of the design: the Cartesian product of each axis's values (`values[axis]` for every
    axis of AXES), in AXES order with the last axis varying fastest."""
    if missing := [axis for axis in AXES if not values.get(axis)]:
        raise ValueError(f"the design needs at least one value for {', '.join(missing)}")
    return [Configuration(*point) for point in itertools.product(*(values[axis] for axis in AXES))]


def with_dropout(model: nn.Module, p: float) -> nn.Module:
    """`model` with an nn.Dropout(p) after every ReLU of its Sequential containers (in place; returned);
    p = 0 leaves it unchanged. Dropout sits after the nonlinearity, as in the paper's F1/C networks."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout must be in [0, 1) (got {p})")
    if p == 0:
        return model
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            layers = []
            for layer in module:
                layers.append(layer)
                if isinstance(layer, nn.ReLU):
                    layers.append(nn.Dropout(p))
            for index in range(len(module)):
                del module[0]
            for layer in layers:
                module.append(layer)
    return model


def study_run(
    configuration: Configuration, seed: int, new_network: Callable[[int, int, int], nn.Module], data: DataSet, subset: Split,
    settings: CurvatureSettings, *, epsilons: Sequence[float], subspace_dim: int, target_loss: float, max_epochs: int,
    momentum: float, milestone: float,
) -> dict:
    """One row of the study's table: `configuration` trained from seed `seed` (`new_network(width, depth,
    seed)` builds its initial point; dropout is added here) with SGD with momentum until its training loss
    reaches `target_loss` (at most `max_epochs` epochs), then measured there: its generalization, steps
    (all, and from `milestone` to the target), ‖x − x0‖, the norms, and over `subset` every measure of
    the predictors stage (φ full and subspace at each ε, λ_max, tr H, adaptive φ, PAC-Bayes 1/σ², B_simple).
    Baselines: η/B and η/√B. A run that does not reach the target is measured no further (`reached`
    False): it is excluded from the scores, as Jiang et al. exclude it, and counted."""
    model = with_dropout(new_network(configuration.width, configuration.depth, seed), configuration.dropout)
    x0 = {name: p.detach().clone() for name, p in model.named_parameters()}
    steps_per_epoch = len(data.train) // configuration.batch_size
    (result,) = train_cell(
        [model], [GridRun(configuration.learning_rate, seed, configuration.weight_decay)], data, optimizer="sgd",
        batch_size=configuration.batch_size, target_loss=target_loss, max_steps=max_epochs * steps_per_epoch, momentum=momentum,
        eval_chunk=settings.eval_chunk, milestone=milestone,
    )
    row = {
        **asdict(configuration), "seed": seed, "reached": result.reached, "diverged": result.diverged, "steps": result.steps,
        "steps_from_milestone": float(result.steps - result.milestone_steps) if result.reached and result.milestone_steps is not None else math.nan,
        "lr_over_batch": configuration.learning_rate / configuration.batch_size,
        "lr_over_sqrt_batch": configuration.learning_rate / math.sqrt(configuration.batch_size),
    }
    if not result.reached:
        return row
    model.load_state_dict(result.state)
    row.update(generalization(model, data, settings.eval_chunk))
    row["distance_from_x0"] = distance(parameters_of(model), x0)
    row.update(norm_measures(model))
    n = sum(p.numel() for p in model.parameters())
    subspace = random_subspace(n, subspace_dim, seed, data.train.x.device)
    row.update(measures_of(model, subset, settings, epsilons, subspace, seed))
    return row


def study_cell(
    points: Sequence[Configuration], seeds: int, new_network: Callable[[int, int, int], nn.Module], data: DataSet, subset: Split,
    settings: CurvatureSettings, *, on_run: Callable[[dict], None] | None = None, **options,
) -> list[dict]:
    """`study_run` of every configuration in `points` × seeds FIRST_SEED .. FIRST_SEED + seeds − 1, in that
    order (`options`: study_run's keywords); `on_run(row)` after each."""
    rows = []
    for configuration in points:
        for seed in range(FIRST_SEED, FIRST_SEED + seeds):
            rows.append(study_run(configuration, seed, new_network, data, subset, settings, **options))
            if on_run is not None:
                on_run(rows[-1])
    return rows


assert tuple(f.name for f in fields(Configuration)) == AXES  # one order of the axes
