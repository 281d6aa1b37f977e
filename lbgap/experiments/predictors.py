"""Which measure predicts generalization? (beyond the paper; Jiang et al. 2020, "Fantastic generalization
measures and where to find them").

Every solution the pipeline trained is measured the same way — every measure on one seeded training
subset, so they differ only in what they ask of f — and each measure is ranked against the
generalization of the solutions by Kendall's τ, with a bootstrap interval, over the solutions that fit
the training set (train accuracy ≥ a threshold: Jiang et al. compare networks trained to the same
criterion; an under-trained sweep point has a small gap because it fits nothing):
- over all of them, which mixes batch sizes: a measure can score well here by separating SB from LB;
- within groups that share the batch size their run was configured with (Jiang et al.'s question with
  one hyperparameter held fixed): the mean of the groups' τ weighted by their pairs, groups of ≥ 3.
Every measure is oriented so that larger means sharper (1/σ² for the PAC-Bayes σ, which is larger when
flatter): a measure that predicts a larger generalization gap has τ > 0. The final training loss is
ranked too, as a control: how far training went, which φ, ‖x − x0‖ and the gap all depend on.

The intervals resample solutions as if they were independent; they are not (several share an initial
point, the warm starts share an SB run), so the intervals are optimistic, and with ~15 measures × 2
targets × 2 scopes some 95 % intervals will exclude 0 by chance. They describe, they do not test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau
from torch import nn

from lbgap.data import DataSet, Split
from lbgap.experiments.curvature import CurvatureSettings, adaptive_measures, flatness_measures, hessian_measures
from lbgap.measures.sharpness import model_loss, sharpness_of_model
from lbgap.measures.subspace import Subspace
from lbgap.results import eps_key
from lbgap.tensors import distance, parameters_of
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.evaluation import evaluate

TARGETS = {"gap": "train − test accuracy (points)", "test_loss": "test loss (nats)"}
CONTROL = "train_loss"  # ranked like a measure: how far training went


@dataclass(frozen=True)
class Solution:
    family: str  # sb, lb, a remedy's name (its SB side: "<name> sb"), sweep, warm_start
    label: str  # unique, e.g. "sweep b64 seed 1"
    batch_size: int  # the batch size its run was configured with (the within-group key; schedules end there)
    x0: Mapping[str, torch.Tensor]
    weights: Mapping[str, torch.Tensor]  # the weights measured: where the run ended (point "final"), or
    point: str = "final"  # where its training loss first was ≤ train.target_loss (point "target")


def solutions_of(family: str, tag: str | None, checkpoints: Iterable[Checkpoint]) -> list[Solution]:
    """The solutions of one family's runs (`tag`, e.g. "b64", names them beside the family and seed): each
    run's final weights, and its weights where its training loss first reached the target, when it did."""
    found = []
    for checkpoint in checkpoints:
        label = " ".join(filter(None, [family, tag, f"seed {checkpoint.seed}"]))
        found.append(Solution(family, label, checkpoint.batch_size, checkpoint.x0, checkpoint.final))
        if checkpoint.at_target is not None:
            found.append(Solution(family, f"{label} at target loss", checkpoint.batch_size, checkpoint.x0, checkpoint.at_target,
                                  point="target"))
    return found


def generalization(model: nn.Module, data: DataSet, chunk: int) -> dict[str, float]:
    """Accuracies (%) on both whole splits, their difference `gap` (points), the test loss and the train loss."""
    train, test = evaluate(model, data.train, chunk), evaluate(model, data.test, chunk)
    return {
        "train_accuracy": 100 * train.accuracy, "test_accuracy": 100 * test.accuracy,
        "gap": 100 * (train.accuracy - test.accuracy), "test_loss": test.loss, CONTROL: train.loss,
    }


def measures_of(
    model: nn.Module, subset: Split, settings: CurvatureSettings, epsilons: Sequence[float], subspace: Subspace, seed: int,
) -> dict[str, float]:
    """Every measure of the model's current weights over `subset` (oriented: larger = sharper):
    φ in the full space and in `subspace` at each ε, λ_max, tr H, the adaptive φ for each η, 1/σ² of
    both PAC-Bayes σ, and the gradient noise scale B_simple (not a sharpness: its sign is not fixed)."""
    chunk = settings.eval_chunk
    loss_at_x = model_loss(model, subset, chunk)
    out = {}
    for space, A in (("full", None), ("subspace", subspace)):
        for eps in epsilons:
            out[f"phi_{space}_{eps_key(eps)}"] = sharpness_of_model(
                model, subset, eps, A, chunk=chunk, maximizer=settings.maximizer, seed=seed, loss_at_x=loss_at_x,
            ).phi
    out.update(adaptive_measures(model, subset, settings, loss_at_x))
    hessian = hessian_measures(model, subset, settings)  # λ_1 of the same Lanczos run for any top_k
    out.update(lambda_max=hessian["lambda_1"], trace=hessian["trace"])
    flat = flatness_measures(model, subset, settings)
    out.update(
        inverse_sigma_sq_absolute=flat["inverse_sigma_sq_absolute"], inverse_sigma_sq_magnitude=flat["inverse_sigma_sq_magnitude"],
        noise_scale=flat["noise_scale"],
    )
    return out


def measure_solutions(
    model: nn.Module, solutions: Sequence[Solution], data: DataSet, subset: Split, settings: CurvatureSettings,
    epsilons: Sequence[float], subspace: Subspace, seed: int, on_solution=None,
) -> pd.DataFrame:
    """One row per solution: family, label, batch_size, point, its generalization, ‖x − x0‖ and every measure
    (NaN for a diverged solution, whose weights are not finite)."""
    rows = []
    for solution in solutions:
        model.load_state_dict(solution.weights)
        row = {"family": solution.family, "label": solution.label, "batch_size": solution.batch_size, "point": solution.point}
        row.update(generalization(model, data, settings.eval_chunk))
        row["distance_from_x0"] = distance(parameters_of(model), solution.x0)
        if all(torch.isfinite(w).all() for w in parameters_of(model).values()):
            row.update(measures_of(model, subset, settings, epsilons, subspace, seed))
        rows.append(row)
        if on_solution is not None:
            on_solution(solution.label)
    return pd.DataFrame(rows)


def within_tau(measure: np.ndarray, target: np.ndarray, groups: np.ndarray, min_size: int = 3) -> float:
    """Kendall's τ-b in each group of ≥ `min_size` solutions, averaged with weights = the group's pairs;
    nan when no group qualifies or every qualifying group's τ is undefined (a constant)."""
    taus, weights = [], []
    for g in np.unique(groups):
        members = groups == g
        k = int(members.sum())
        if k < min_size:
            continue
        tau = kendalltau(measure[members], target[members]).statistic
        if np.isfinite(tau):
            taus.append(tau)
            weights.append(k * (k - 1) / 2)
    return float(np.average(taus, weights=weights)) if taus else float("nan")


def bootstrap_interval(
    measure: np.ndarray, target: np.ndarray, groups: np.ndarray | None, *, resamples: int, confidence: float, seed: int,
) -> tuple[float, float, int]:
    """Percentile bootstrap interval of τ (overall when `groups` is None, else `within_tau`) and the number of
    resamples where τ was defined (the others — a constant measure or target — are left out): solutions are
    resampled with replacement — within each group when grouped, so every resample keeps the group sizes."""
    if len(measure) < 2:
        return float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    strata = [np.arange(len(measure))] if groups is None else [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    for _ in range(resamples):
        index = np.concatenate([rng.choice(s, size=len(s), replace=True) for s in strata])
        if groups is None:
            values.append(kendalltau(measure[index], target[index]).statistic)
        else:
            values.append(within_tau(measure[index], target[index], groups[index]))
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), 0
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high), len(values)


def rank_correlations(
    table: pd.DataFrame, measures: Sequence[str], *, resamples: int, confidence: float, seed: int,
) -> pd.DataFrame:
    """One row per (measure, target, scope ∈ {all, within batch size}) over the rows of `table` with a value:
    τ, its interval, the resamples it rests on, the solutions and (within) the groups of ≥ 3 used."""
    rows = []
    for measure in measures:
        m = table[measure].to_numpy(dtype=float)
        for target in TARGETS:
            t = table[target].to_numpy(dtype=float)
            keep = np.isfinite(m) & np.isfinite(t)
            groups = table["batch_size"].to_numpy()[keep]
            used = int((pd.Series(groups).value_counts() >= 3).sum())
            for scope, grouping in (("all", None), ("within", groups)):
                tau = kendalltau(m[keep], t[keep]).statistic if grouping is None else within_tau(m[keep], t[keep], grouping)
                low, high, valid = bootstrap_interval(m[keep], t[keep], grouping, resamples=resamples, confidence=confidence, seed=seed)
                rows.append({
                    "measure": measure, "target": target, "scope": scope, "tau": float(tau), "low": low, "high": high,
                    "resamples": valid, "solutions": int(keep.sum()), "groups": 1 if grouping is None else used,
                })
    return pd.DataFrame(rows)


# the columns of a `measure_solutions` table that are not measures
SOLUTION_COLUMNS = frozenset({"family", "label", "batch_size", "point", "train_accuracy", "test_accuracy", "gap", "test_loss", "included"})


def measure_columns(table: pd.DataFrame, not_measures: Collection[str] = SOLUTION_COLUMNS) -> list[str]:
    """The measure columns of a table, in its order, after the control (the train loss): every column
    neither the control nor in `not_measures` (by default those of a `measure_solutions` table)."""
    return [CONTROL] + [c for c in table.columns if c != CONTROL and c not in not_measures]


def fitted(table: pd.DataFrame, min_train_accuracy: float) -> pd.Series:
    """Which solutions enter the τ: train accuracy (%) ≥ `min_train_accuracy` (a fraction) × 100."""
    return table["train_accuracy"] >= 100 * min_train_accuracy


def ranked_out(frame: pd.DataFrame) -> list[str]:
    """Labels of the solutions left out of the τ, with their train accuracy."""
    return [f"{r.label} ({r.train_accuracy:.1f} % train)" for r in frame[~frame.included].itertuples()]


def predictor_study(frame: pd.DataFrame, min_train_accuracy: float, *, resamples: int, confidence: float, seed: int) -> dict:
    """The τ of every measure over the solutions of a `measure_solutions` table that fit the training set
    (adds its `included` column): at the final weights; at the target loss, over the runs included at both
    points (no τ under 3 runs: often few reach it); and the same runs at their final weights, so that only
    the point differs between the two."""
    frame["included"] = fitted(frame, min_train_accuracy)

    def study(rows: pd.DataFrame, least: int = 0) -> dict:
        ranked = rows[rows.included]
        taus = rank_correlations(ranked, measure_columns(frame), resamples=resamples, confidence=confidence,
                                 seed=seed) if len(ranked) >= least else pd.DataFrame()
        return {
            "solutions": len(rows), "included": len(ranked), "left_out": ranked_out(rows),
            "batch_sizes": {str(b): int(k) for b, k in ranked["batch_size"].value_counts().sort_index().items()},
            "tau": taus.to_dict(orient="records"),
        }

    target, final = frame.point == "target", frame.point == "final"
    both = set(frame[target & frame.included].label.str.removesuffix(" at target loss"))
    both &= set(frame[final & frame.included].label)
    return {
        "min_train_accuracy": min_train_accuracy, "confidence": confidence, "bootstrap": resamples,
        **study(frame[final]),
        "at_target_loss": study(frame[target & frame.label.str.removesuffix(" at target loss").isin(both)], least=3),
        "final_of_those_at_target": study(frame[final & frame.label.isin(both)], least=3),
    }
