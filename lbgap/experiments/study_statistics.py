"""Statistics of a designed study of generalization measures (Jiang et al. 2020; Dziugaite et al. 2020):
a table with one row per trained model, one column per hyperparameter (the design's axes), one per
measure, and the generalization gap.

- `granulated_tau` (Jiang et al.'s Ψ): for one axis, the models whose other hyperparameters are all equal
  form a group; Kendall's τ between a measure and the gap within each group, averaged over the groups,
  is ψ for that axis — does the measure rank models when only that hyperparameter changes? Ψ is the
  mean of ψ over the axes.
- `sign_errors` (Dziugaite et al.'s robustness): the same groups are the environments; within one, every
  pair of models is compared — does the measure's difference have the gap's sign? Pairs whose gaps differ
  by less than the test set can resolve (a Hoeffding bound at level δ on each model's test accuracy) are
  dropped. An environment's sign error is the share of its pairs with the wrong sign (a tie counts ½);
  the average is over environments, and the worst case is their maximum: a measure that fails in one
  environment fails as a predictor there. `DZIUGAITE_DELTA` is the level at which this filter is theirs.
- `conditional_mutual_information` (Jiang et al.): how much of the order of the gaps over pairs of models
  the measure's order tells once up to two hyperparameters are known, at its worst over those sets.
- `study_scores`: all of them for every measure and baseline, each with a bootstrap interval that resamples
  whole configurations (a configuration's seeds are not independent evidence), ψ also with each
  configuration's seeds averaged (`seed_means`), each measure's Ψ against the best baseline's on the same
  resamples, and the study's rule.
- `gap_effects`: how far each axis moves the gap itself — the scale every score along that axis rests on.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd


TIE = 1e-9  # scores (τ, ψ, Ψ, sign errors) closer than this are equal for the study's rule
DRAW = "_draw"  # the column `clustered_intervals` adds to a resample: which drawn cluster a row came from


def _groups(table: pd.DataFrame, axis: str, axes: Sequence[str]) -> list[pd.DataFrame]:
    """The groups of rows that share every axis but `axis` and span at least two of its values."""
    others = [a for a in axes if a != axis]
    grouped = table.groupby(others, sort=True) if others else [((), table)]
    return [group for _, group in grouped if group[axis].nunique() > 1]


def _group_positions(table: pd.DataFrame, axes: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """For every axis, the row positions of each of its `_groups`."""
    table = table.reset_index(drop=True)
    return {axis: [group.index.to_numpy() for group in _groups(table, axis, axes)] for axis in axes}


def _copies(table: pd.DataFrame, axes: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """In a resample (`DRAW` column present): each row's configuration (an integer per distinct combination of
    the axes) and which draw of its cluster it came from; None for the table itself."""
    if DRAW not in table or not axes:
        return None
    configuration = table.groupby(list(axes), sort=True).ngroup().to_numpy()
    return configuration, table[DRAW].to_numpy()


def _kept_pairs(i: np.ndarray, j: np.ndarray, copies: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Which pairs of rows (i, j) count: all but those between two draws of one configuration in a resample —
    a configuration drawn twice is two samples of the same evidence, and its seeds paired across the copies
    would count its seed pairs again (pulling per-model scores towards the seeds' own order)."""
    if copies is None:
        return np.ones(len(i), dtype=bool)
    configuration, draw = copies
    return ~((configuration[i] == configuration[j]) & (draw[i] != draw[j]))


def kendall_tau_b(x: np.ndarray, y: np.ndarray, copies: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Kendall's τ-b of each column of `x` (m, k) with `y` (m,), as scipy.stats.kendalltau computes it for
    one pair (ties in either handled; NaN where a column or y is constant), by counting all m(m − 1)/2
    pairs at once: meant for the small groups of a study, where scipy's per-call cost dominates. `copies`:
    in a resample, pairs between draws of one configuration are left out (`_kept_pairs`)."""
    i, j = np.triu_indices(len(y), k=1)
    kept = _kept_pairs(i, j, copies)
    i, j = i[kept], j[kept]
    sx, sy = np.sign(x[j] - x[i]), np.sign(y[j] - y[i])[:, None]
    pairs = len(i)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(0) / np.sqrt((pairs - (sx == 0).sum(0)) * (pairs - (sy == 0).sum()))


def _psi(values: np.ndarray, target: np.ndarray, groups: dict[str, list[np.ndarray]],
         copies: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """ψ per axis and Ψ for every column of `values` (m, k) against `target` (m,), given the groups. ψ is NaN
    on an axis where every group's τ is undefined (the column constant within each: it cannot order the
    models that axis separates); Ψ counts such a ψ as 0, so that every column is averaged over the same axes."""
    psi = {}
    for axis, positions in groups.items():
        taus = np.array([kendall_tau_b(values[rows], target[rows], None if copies is None else (copies[0][rows], copies[1][rows]))
                         for rows in positions]).reshape(len(positions), values.shape[1])
        with warnings.catch_warnings():  # a column whose every τ is undefined: NaN, said in the docstring
            warnings.simplefilter("ignore", RuntimeWarning)
            psi[axis] = np.nanmean(taus, axis=0) if len(positions) else np.full(values.shape[1], np.nan)
    stacked = np.array(list(psi.values())).reshape(len(psi), values.shape[1])
    psi["Psi"] = np.nan_to_num(stacked, nan=0.0).mean(axis=0) if len(psi) else np.full(values.shape[1], np.nan)
    return psi


def granulated_tau(table: pd.DataFrame, measure: str, axes: Sequence[str], target: str = "gap") -> dict[str, float]:
    """ψ per axis (the mean τ over that axis's groups; NaN without a group or where every τ is undefined) and
    their mean Ψ (an undefined ψ counted as 0), for `measure` against `target`."""
    table = table.reset_index(drop=True)
    psi = _psi(table[[measure]].to_numpy(float), table[target].to_numpy(float), _group_positions(table, axes))
    return {key: float(value[0]) for key, value in psi.items()}


def hoeffding_margin(test_samples: int, delta: float) -> float:
    """The accuracy (fraction) by which two models' measured test accuracies can differ by chance with
    probability at most δ: each is within √(ln(4/δ) / (2n)) of its true value with probability 1 − δ/2, so
    their difference within twice that."""
    return 2 * math.sqrt(math.log(4 / delta) / (2 * test_samples))


# Dziugaite et al. weight a pair of models by the probability that both measured test accuracies lie within half
# their difference of the true ones, and keep it where that weight exceeds ½. With Hoeffding's bound each does so
# with probability at least 1 − δ/2 at `hoeffding_margin(n, δ)` / 2, so both with (1 − δ/2)² = ½ at this δ:
# `hoeffding_margin(n, DZIUGAITE_DELTA)` is their filter (≈ 0.66 of the margin at δ = 0.05).
DZIUGAITE_DELTA = 2 * (1 - 1 / math.sqrt(2))  # ≈ 0.586


def _environments(target: np.ndarray, levels: dict[str, np.ndarray], groups: dict[str, list[np.ndarray]],
                  margin: float) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per axis, every environment that keeps a pair: two configurations that differ in that axis alone
    (Dziugaite et al.) — two values of the axis (`levels[axis]`, (m,)) within one of its `groups` (row
    positions) — as the row positions (a, b) of its kept pairs, one model of each configuration, whose
    `target` (m,) values differ by more than `margin`."""
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for axis, positions in groups.items():
        found[axis] = []
        for rows in positions:
            values_of = levels[axis][rows]
            for low, high in itertools.combinations(np.unique(values_of), 2):
                a, b = (rows[values_of == level] for level in (low, high))
                a, b = np.repeat(a, len(b)), np.tile(b, len(a))
                kept = np.abs(target[a] - target[b]) > margin
                if kept.any():
                    found[axis].append((a[kept], b[kept]))
    return found


def _sign_errors(values: np.ndarray, target: np.ndarray, environments: dict[str, list[tuple[np.ndarray, np.ndarray]]]
                 ) -> dict[str, list[np.ndarray]]:
    """Per axis, the sign error of every column of `values` (m, k) against `target` (m,) in each of its
    `environments` (`_environments`): the share of its pairs whose measures differ the other way from their
    targets, a tie in the measure counting ½. One (k,) array per environment."""
    found: dict[str, list[np.ndarray]] = {}
    for axis, pairs in environments.items():
        found[axis] = []
        for a, b in pairs:
            agreement = np.sign(values[a] - values[b]) * np.sign(target[a] - target[b])[:, None]
            found[axis].append(np.where(agreement == 0, 0.5, (agreement < 0).astype(float)).mean(axis=0))
    return found


def _sign_summary(per_axis: dict[str, list[np.ndarray]], columns: int,
                  pairs: dict[str, list[int]] | None = None) -> dict[str, np.ndarray]:
    """The average and worst sign error over every environment of every axis, and each axis's worst (NaN
    where no environment kept a pair), for each of `columns` measures; given each environment's number of
    kept `pairs`, also how many pairs the worst case rests on ("worst_pairs": the most among the
    environments that attain it)."""
    every = [error for errors in per_axis.values() for error in errors]
    nan = np.full(columns, np.nan)
    out = {"average": np.mean(every, axis=0) if every else nan, "worst": np.max(every, axis=0) if every else nan}
    for axis, errors in per_axis.items():
        out[f"worst_{axis}"] = np.max(errors, axis=0) if errors else nan
    if pairs is not None:
        sizes = np.array([size for axis in per_axis for size in pairs[axis]], dtype=float)
        out["worst_pairs"] = (np.where(np.array(every) == out["worst"], sizes[:, None], 0).max(axis=0) if every else nan)
    return out


def sign_errors(
    table: pd.DataFrame, measure: str, axes: Sequence[str], *, margin: float, target: str = "gap",
) -> dict[str, float | int]:
    """Dziugaite et al.'s sign error of `measure` for `target` (both in the table's units; `margin` in the
    target's units: pairs whose targets differ by less are dropped) over environments, each two
    configurations that differ in one axis (`_sign_errors`): the mean over environments, the worst
    environment's, and how many environments and pairs were scored."""
    table = table.reset_index(drop=True)
    target_values = table[target].to_numpy(float)
    environments = _environments(target_values, {axis: table[axis].to_numpy() for axis in axes}, _group_positions(table, axes), margin)
    per_axis = _sign_errors(table[[measure]].to_numpy(float), target_values, environments)
    count = sum(len(pairs) for pairs in environments.values())
    if not count:
        return {"average": float("nan"), "worst": float("nan"), "environments": 0, "pairs": 0}
    summary = _sign_summary(per_axis, 1)
    return {"average": float(summary["average"][0]), "worst": float(summary["worst"][0]), "environments": count,
            "pairs": sum(len(a) for pairs in environments.values() for a, _ in pairs)}


def clustered_interval(
    table: pd.DataFrame, statistic, clusters: Sequence[str], *, resamples: int, confidence: float, seed: int,
) -> tuple[float, float, list[float]]:
    """Percentile-bootstrap interval of `statistic(table)` resampling whole clusters — the rows that share the
    `clusters` columns (a configuration and its seeds) — with replacement, so that models which share a
    configuration are not counted as independent evidence. Returns (low, high, the finite draws)."""
    return clustered_intervals(table, lambda sample: {"": statistic(sample)}, clusters, resamples=resamples,
                               confidence=confidence, seed=seed)[""]


def clustered_intervals(
    table: pd.DataFrame, statistics: Callable[[pd.DataFrame], Mapping[str, float]], clusters: Sequence[str], *,
    resamples: int, confidence: float, seed: int,
) -> dict[str, tuple[float, float, list[float]]]:
    """`clustered_interval` of every statistic `statistics(sample)` returns, all computed on the same
    resamples (one resampled table per draw, however many statistics)."""
    groups = [group for _, group in table.groupby(list(clusters), sort=True)]
    generator = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(resamples):
        picked = generator.integers(0, len(groups), len(groups))
        # DRAW numbers the drawn clusters, so that a configuration drawn twice stays two configurations
        sample = pd.concat([groups[i].assign(**{DRAW: k}) for k, i in enumerate(picked)], ignore_index=True)
        for key, value in statistics(sample).items():
            draws.setdefault(key, [])
            if math.isfinite(value):
                draws[key].append(float(value))
    tail = (1 - confidence) / 2
    return {key: (float("nan"), float("nan"), values) if not values else (*map(float, np.quantile(values, [tail, 1 - tail])), values)
            for key, values in draws.items()}


def _cmi(values: np.ndarray, target: np.ndarray, codes: np.ndarray, max_conditioned: int,
         copies: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """`conditional_mutual_information` of every column of `values` (m, k) against `target` (m,), with the axes'
    values as integer codes (m, axes): the score, the index of the conditioning set that attains it (into
    `conditioning_sets(axes, max_conditioned)`, −1 where no Î is defined) and Î with S empty, each (k,)."""
    m, k = values.shape
    i, j = np.triu_indices(m, k=1)
    counted = _kept_pairs(i, j, copies)
    # both orders of every pair: U_S holds (values of the first, of the second), so one order alone would make
    # the score depend on the order of the rows
    i, j = np.concatenate([i[counted], j[counted]]), np.concatenate([j[counted], i[counted]])
    v_g = np.sign(target[j] - target[i])
    v_mu = np.sign(values[j] - values[i])  # (pairs, k)
    subsets = conditioning_sets(range(codes.shape[1]), max_conditioned)
    scores = np.full((len(subsets), k), np.nan)
    for s, subset in enumerate(subsets):
        u = np.zeros(len(i), dtype=np.int64)
        for axis in subset:  # U_S: both models' values on S, as one integer per pair
            levels = int(codes[:, axis].max()) + 1
            u = (u * levels + codes[i, axis]) * levels + codes[j, axis]
        _, u = np.unique(u, return_inverse=True)
        for c in range(k):
            kept = (v_mu[:, c] != 0) & (v_g != 0)
            if not kept.any():
                continue
            cell = u[kept] * 4 + (v_mu[kept, c] > 0) * 2 + (v_g[kept] > 0)
            joint = np.bincount(cell, minlength=4 * (int(u.max()) + 1)).reshape(-1, 2, 2).astype(float)  # (U, μ, g)
            weight = joint.sum(axis=(1, 2)) / kept.sum()

            def entropy(counts: np.ndarray) -> np.ndarray:  # per U, of the counts along the last axis
                total = counts.sum(axis=-1, keepdims=True)
                with np.errstate(invalid="ignore", divide="ignore"):
                    p = np.where(counts > 0, counts / total, 1.0)
                return -(p * np.log(p)).sum(axis=-1)

            h_g = entropy(joint.sum(axis=1))
            information = entropy(joint.sum(axis=2)) + h_g - entropy(joint.reshape(len(joint), 4))
            conditional = float((weight * h_g).sum())
            scores[s, c] = float((weight * information).sum()) / conditional if conditional > 0 else np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no Î defined: NaN
        score = np.nanmin(scores, axis=0)
    filled = np.where(np.isnan(scores), np.inf, scores)
    attained = np.where(np.isnan(score), -1, np.argmin(filled, axis=0))
    return {"score": score, "attained": attained, "unconditioned": scores[0]}


def conditioning_sets(axes: Sequence, max_conditioned: int) -> list[tuple]:
    """Every set of at most `max_conditioned` of `axes`, the empty set first, then by size in axis order."""
    return [subset for size in range(max_conditioned + 1) for subset in itertools.combinations(axes, size)]


def _codes(table: pd.DataFrame, axes: Sequence[str]) -> np.ndarray:
    """Each axis's values as integer codes 0, 1, … (m, axes)."""
    return np.column_stack([pd.factorize(table[axis], sort=True)[0] for axis in axes]) if axes else np.zeros((len(table), 0), int)


def conditional_mutual_information(
    table: pd.DataFrame, measure: str, axes: Sequence[str], *, max_conditioned: int = 2, target: str = "gap",
) -> dict[str, float]:
    """Jiang et al.'s conditional-independence score: over every ordered pair of models (i, j), V_μ = sign of
    the measure's difference and V_g = sign of the target's (ties dropped), and for each set S of at most
    `max_conditioned` axes, U_S = both models' values on S. Î(S) = I(V_μ; V_g | U_S) / H(V_g | U_S), in
    [0, 1]: how much of the generalization order the measure tells once S is known. The score is the
    minimum over S — a measure that says nothing beyond some hyperparameters scores 0. Returns the score,
    the S that attains it (as "a+b"; "" for the empty set) and Î with S empty."""
    table = table.reset_index(drop=True)
    found = _cmi(table[[measure]].to_numpy(float), table[target].to_numpy(float), _codes(table, axes), max_conditioned)
    subsets = conditioning_sets(list(axes), max_conditioned)
    attained = int(found["attained"][0])
    return {"score": float(found["score"][0]), "attained_by": "+".join(subsets[attained]) if attained >= 0 else "",
            "unconditioned": float(found["unconditioned"][0])}


def seed_means(table: pd.DataFrame, axes: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """One row per configuration (per drawn configuration in a resample): the mean of `columns` over its
    seeds — the table Jiang et al.'s statistics see when each configuration counts once."""
    keys = list(axes) + ([DRAW] if DRAW in table else [])
    return table.groupby(keys, sort=True)[list(columns)].mean().reset_index()


def _all_scores(sample: pd.DataFrame, names: Sequence[str], axes: Sequence[str], *, target: str, margins: Mapping[str, float],
                orientation: np.ndarray, max_conditioned: int) -> dict[str, np.ndarray]:
    """Every score of the columns `names` of `sample`, each (k,): τ; ψ per axis ("psi_<axis>") and Ψ; the same
    with each configuration's seeds averaged ("psi_seeds_averaged_<axis>", "Psi_seeds_averaged"); the CMI score
    ("cmi") and its set's index ("cmi_set"); for each `margins` prefix, the sign errors with that noise filter
    ("<prefix>_average", "<prefix>_worst", "<prefix>_worst_<axis>", "<prefix>_worst_pairs") and how many
    environments kept a pair on each axis ("<prefix>_environments_<axis>"). Each column is first multiplied by its
    `orientation` (±1). In a resample, pairs between two draws of one configuration are left out (`_kept_pairs`)."""
    values, gap = sample[names].to_numpy(float) * orientation, sample[target].to_numpy(float)
    groups, copies = _group_positions(sample, axes), _copies(sample, axes)
    out = {"tau": kendall_tau_b(values, gap, copies)}
    psi = _psi(values, gap, groups, copies)
    out |= {("Psi" if axis == "Psi" else f"psi_{axis}"): value for axis, value in psi.items()}
    averaged = _seeds_averaged_psi(sample, names, values, axes, target)
    out |= {("Psi_seeds_averaged" if axis == "Psi" else f"psi_seeds_averaged_{axis}"): value for axis, value in averaged.items()}
    cmi = _cmi(values, gap, _codes(sample, axes), max_conditioned, copies)
    out |= {"cmi": cmi["score"], "cmi_set": cmi["attained"]}
    levels = {axis: sample[axis].to_numpy() for axis in axes}
    for prefix, margin in margins.items():
        environments = _environments(gap, levels, groups, margin)
        pairs = {axis: [len(a) for a, _ in found] for axis, found in environments.items()}
        signs = _sign_summary(_sign_errors(values, gap, environments), len(names), pairs)
        out |= {f"{prefix}_{key}": value for key, value in signs.items()}
        out |= {f"{prefix}_environments_{axis}": np.full(len(names), len(found)) for axis, found in environments.items()}
    return out


def _seeds_averaged_psi(sample: pd.DataFrame, names: Sequence[str], values: np.ndarray, axes: Sequence[str],
                        target: str) -> dict[str, np.ndarray]:
    """`_psi` per axis and Ψ of `values` (m, k), the columns `names` of `sample` as scored (oriented), with each
    configuration's seeds averaged first (per drawn configuration in a resample)."""
    means = seed_means(sample.assign(**dict(zip(names, values.T))), axes, [*names, target])
    return _psi(means[names].to_numpy(float), means[target].to_numpy(float), _group_positions(means, axes), _copies(means, axes))


def _against_baseline(table: pd.DataFrame, measures: Sequence[str], baseline: str, direction: int, axes: Sequence[str], *,
                      target: str, resamples: int, confidence: float, seed: int) -> dict[str, tuple[float, float, float]]:
    """Each measure's seeds-averaged Ψ minus `baseline`'s (turned by its `direction`), on the networks where both
    are defined, with a clustered interval of the difference from the same resamples (the two Ψ are not
    independent: they share every network): measure → (difference, low, high)."""
    by_rows: dict[tuple[int, ...], list[str]] = {}
    for name in measures:
        by_rows.setdefault(tuple(table.dropna(subset=[name, baseline, target]).index), []).append(name)
    out = {}
    for index, names in by_rows.items():
        scored = table.loc[list(index)].reset_index(drop=True)
        orientation = np.array([1.0] * len(names) + [float(direction)])

        def differences(sample: pd.DataFrame, names: list[str] = names, orientation: np.ndarray = orientation) -> dict[str, float]:
            columns = [*names, baseline]
            psi = _seeds_averaged_psi(sample, columns, sample[columns].to_numpy(float) * orientation, axes, target)["Psi"]
            return {name: float(psi[k] - psi[-1]) for k, name in enumerate(names)}

        found = differences(scored)
        intervals = clustered_intervals(scored, differences, list(axes), resamples=resamples, confidence=confidence, seed=seed)
        out |= {name: (found[name], *intervals[name][:2]) for name in names}
    return out


def gap_effects(table: pd.DataFrame, axes: Sequence[str], target: str = "gap") -> dict[str, dict[str, float | int]]:
    """How far each axis moves `target` itself, with each configuration's seeds averaged: within each group of
    configurations that differ in that axis alone, the target at the axis's largest value minus at its smallest
    ("mean", "low", "high" over the groups) and the largest difference between two configurations of one group
    ("largest", unsigned), and in how many groups it rises and falls — to set beside a measure's ψ along that
    axis and the sign error's noise filter."""
    means = seed_means(table, axes, [target])
    out = {}
    for axis in axes:
        groups = _groups(means, axis, axes)
        if not groups:
            out[axis] = {"groups": 0, "mean": float("nan"), "low": float("nan"), "high": float("nan"), "largest": float("nan"),
                         "rises": 0, "falls": 0}
            continue
        ends = np.array([group.sort_values(axis)[target].iloc[-1] - group.sort_values(axis)[target].iloc[0] for group in groups])
        largest = max(float(group[target].max() - group[target].min()) for group in groups)
        out[axis] = {"groups": len(groups), "mean": float(ends.mean()), "low": float(ends.min()), "high": float(ends.max()), "largest": largest,
                     "rises": int((ends > 0).sum()), "falls": int((ends < 0).sum())}
    return out


INTERVALS = ("tau", "Psi", "Psi_seeds_averaged", "cmi")  # besides each axis's ψ and each reading's average and worst sign error


def study_scores(
    table: pd.DataFrame, measures: Sequence[str], baselines: Mapping[str, int], axes: Sequence[str], *, margin: float,
    resamples: int, confidence: float, seed: int, dziugaite_margin: float | None = None, target: str = "gap",
    max_conditioned: int = 2,
) -> pd.DataFrame:
    """One row per measure and per baseline (`kind`), every score of the study against `target`, each with a
    percentile-bootstrap interval clustered by configuration (the `axes` values: a configuration's seeds go
    together; "<score>_low", "<score>_high"): τ over all models; ψ per axis and their mean Ψ with every model
    a point, and with each configuration's seeds averaged first (one point per configuration, as Jiang et
    al.'s one model per configuration: pairs that differ by seed alone do not count); the conditional mutual
    information score (and the set that attains it, `cmi_given`); the average and worst sign error
    (Dziugaite et al.) and each axis's worst, with the noise filter `margin` (the rule's; in the target's
    units: `hoeffding_margin` × 100 for a gap in points) and, as a second reading, `dziugaite_margin`
    ("dziugaite_sign_error_…"; `DZIUGAITE_DELTA`). Counts: ψ's groups and each reading's environments per
    axis. The worst case is a maximum over environments, so its percentile interval often collapses to a
    point: it describes the resamples, it is not a confidence interval.

    `baselines`: name → the direction fixed before looking at the data (+1: a larger value predicts a larger
    gap; −1, *reversed*: a smaller gap); each is scored that way round (`orientation`). `best_baseline` is
    the one with the highest seeds-averaged Ψ, and `Psi_minus_best_baseline` each measure's seeds-averaged Ψ
    minus its, on the networks where both are defined, with the interval of the difference. `predicts`
    applies the study's rule to the seeds-averaged scores: ψ above 0 on every axis, a worst-case sign error
    below ½ (at `margin`) and a Ψ above every baseline's; `why` names the first rule it fails.
    `above_baselines_on`: the axes on which a measure's seeds-averaged ψ is above every baseline's
    (descriptive; an undefined ψ counts as 0)."""
    kinds = {name: "measure" for name in measures} | {name: "baseline" for name in baselines}
    margins = {"sign_error": margin} | ({} if dziugaite_margin is None else {"dziugaite_sign_error": dziugaite_margin})
    options = {"target": target, "margins": margins, "max_conditioned": max_conditioned}
    subsets = ["+".join(subset) for subset in conditioning_sets(list(axes), max_conditioned)]
    signed = [f"{prefix}_{key}" for prefix in margins for key in ("average", "worst")]
    # a measure's models are the rows where it (and the target) is defined: measures defined on the same rows
    # share their bootstrap resamples (the same seed draws the same clusters), one resampled table per draw
    by_rows: dict[tuple[int, ...], list[str]] = {}
    for name in kinds:
        by_rows.setdefault(tuple(table.dropna(subset=[name, target]).index), []).append(name)
    scores = {}
    for index, names in by_rows.items():
        scored = table.loc[list(index)].reset_index(drop=True)
        orientation = np.array([float(baselines[n]) if kinds[n] == "baseline" else 1.0 for n in names])
        found = _all_scores(scored, names, axes, orientation=orientation, **options)
        keys = [*INTERVALS, *signed, *(f"psi_{axis}" for axis in axes), *(f"psi_seeds_averaged_{axis}" for axis in axes)]

        def statistics(sample: pd.DataFrame, names: list[str] = names, orientation: np.ndarray = orientation) -> dict[str, float]:
            drawn = _all_scores(sample, names, axes, orientation=orientation, **options)
            return {f"{n}/{key}": float(drawn[key][k]) for key in keys for k, n in enumerate(names)}

        intervals = clustered_intervals(scored, statistics, list(axes), resamples=resamples, confidence=confidence, seed=seed)
        groups = _group_positions(scored, axes)
        for k, name in enumerate(names):
            row = {"name": name, "kind": kinds[name], "orientation": int(orientation[k]), "models": len(scored),
                   "configurations": int(scored.groupby(list(axes)).ngroups) if axes else 1}
            for key in keys:
                row[key] = float(found[key][k])
                row[f"{key}_low"], row[f"{key}_high"], _ = intervals[f"{name}/{key}"]
            for axis in axes:
                row[f"groups_{axis}"] = len(groups[axis])
                for prefix in margins:
                    row[f"{prefix}_worst_{axis}"] = float(found[f"{prefix}_worst_{axis}"][k])
                    row[f"{prefix.replace('sign_error', 'sign_environments')}_{axis}"] = int(found[f"{prefix}_environments_{axis}"][k])
            for prefix in margins:
                row[prefix.replace("sign_error", "sign_environments")] = sum(int(found[f"{prefix}_environments_{axis}"][k]) for axis in axes)
                row[f"{prefix}_worst_pairs"] = float(found[f"{prefix}_worst_pairs"][k])
            row["cmi_given"] = subsets[int(found["cmi_set"][k])] if found["cmi_set"][k] >= 0 else ""
            scores[name] = row
    frame = pd.DataFrame([scores[name] for name in kinds])
    is_baseline = frame.kind == "baseline"
    of_baselines = frame.loc[is_baseline, "Psi_seeds_averaged"]
    best_baseline = of_baselines.max() if baselines else float("nan")
    best_name = frame.loc[of_baselines.idxmax(), "name"] if of_baselines.notna().any() else ""
    best_on = {axis: frame.loc[is_baseline, f"psi_seeds_averaged_{axis}"].fillna(0.0).max() for axis in axes} if baselines else {}
    frame["best_baseline"] = best_name
    against = {} if not best_name else _against_baseline(
        table, list(measures), best_name, baselines[best_name], axes, target=target, resamples=resamples,
        confidence=confidence, seed=seed)
    for column, position in (("Psi_minus_best_baseline", 0), ("Psi_minus_best_baseline_low", 1), ("Psi_minus_best_baseline_high", 2)):
        frame[column] = [against[n][position] if n in against else float("nan") for n in frame.name]

    def verdict(row: pd.Series) -> str:
        # a mean of τ's that is 0 exactly can come out ±1e-17 by the order of its sums: only more than TIE counts
        if row.kind == "baseline":
            return "a baseline"
        if not all(row[f"psi_seeds_averaged_{axis}"] > TIE for axis in axes):  # NaN (no group on that axis) fails too
            failing = [axis for axis in axes if not row[f"psi_seeds_averaged_{axis}"] > TIE]
            return f"ψ (seeds averaged) not above 0 for {', '.join(failing)}"
        if not row.sign_error_worst < 0.5 - TIE:
            return f"worst-case sign error {row.sign_error_worst:.2f} ≥ 0.5"
        if not math.isnan(best_baseline) and not row.Psi_seeds_averaged > best_baseline + TIE:
            return f"Ψ (seeds averaged) {row.Psi_seeds_averaged:.2f} not above the best baseline's {best_baseline:.2f}"
        return ""

    frame["why"] = frame.apply(verdict, axis=1)
    frame["predicts"] = (frame.kind == "measure") & (frame.why == "")
    frame["above_baselines_on"] = [
        "" if row.kind == "baseline" or not baselines else
        ", ".join(axis for axis in axes if row[f"psi_seeds_averaged_{axis}"] > best_on[axis] + TIE)
        for _, row in frame.iterrows()]
    return frame
