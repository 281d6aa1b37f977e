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
  environment fails as a predictor there.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd


TIE = 1e-9  # scores (τ, ψ, Ψ, sign errors) closer than this are equal for the study's rule


def _groups(table: pd.DataFrame, axis: str, axes: Sequence[str]) -> list[pd.DataFrame]:
    """The groups of rows that share every axis but `axis` and span at least two of its values."""
    others = [a for a in axes if a != axis]
    grouped = table.groupby(others, sort=True) if others else [((), table)]
    return [group for _, group in grouped if group[axis].nunique() > 1]


def _group_positions(table: pd.DataFrame, axes: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """For every axis, the row positions of each of its `_groups`."""
    table = table.reset_index(drop=True)
    return {axis: [group.index.to_numpy() for group in _groups(table, axis, axes)] for axis in axes}


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each column of `x` (m, k) with `y` (m,), as scipy.stats.kendalltau computes it for
    one pair (ties in either handled; NaN where a column or y is constant), by counting all m(m − 1)/2
    pairs at once: meant for the small groups of a study, where scipy's per-call cost dominates."""
    i, j = np.triu_indices(len(y), k=1)
    sx, sy = np.sign(x[j] - x[i]), np.sign(y[j] - y[i])[:, None]
    pairs = len(i)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(0) / np.sqrt((pairs - (sx == 0).sum(0)) * (pairs - (sy == 0).sum()))


def _psi(values: np.ndarray, target: np.ndarray, groups: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """ψ per axis and Ψ for every column of `values` (m, k) against `target` (m,), given the groups."""
    psi = {}
    for axis, positions in groups.items():
        taus = np.array([kendall_tau_b(values[rows], target[rows]) for rows in positions]).reshape(len(positions), values.shape[1])
        with warnings.catch_warnings():  # a column whose every τ is undefined: NaN, said in the docstring
            warnings.simplefilter("ignore", RuntimeWarning)
            psi[axis] = np.nanmean(taus, axis=0) if len(positions) else np.full(values.shape[1], np.nan)
    stacked = np.array(list(psi.values())).reshape(len(psi), values.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        psi["Psi"] = np.nanmean(stacked, axis=0) if len(psi) else np.full(values.shape[1], np.nan)
    return psi


def granulated_tau(table: pd.DataFrame, measure: str, axes: Sequence[str], target: str = "gap") -> dict[str, float]:
    """ψ per axis (the mean τ over that axis's groups; NaN without a group or where every τ is undefined) and
    their mean Ψ (over the axes with a ψ), for `measure` against `target`."""
    table = table.reset_index(drop=True)
    psi = _psi(table[[measure]].to_numpy(float), table[target].to_numpy(float), _group_positions(table, axes))
    return {key: float(value[0]) for key, value in psi.items()}


def hoeffding_margin(test_samples: int, delta: float) -> float:
    """The accuracy (fraction) by which two models' measured test accuracies can differ by chance with
    probability at most δ: each is within √(ln(4/δ) / (2n)) of its true value with probability 1 − δ/2, so
    their difference within twice that."""
    return 2 * math.sqrt(math.log(4 / delta) / (2 * test_samples))


def sign_errors(
    table: pd.DataFrame, measure: str, axes: Sequence[str], *, margin: float, target: str = "gap",
) -> dict[str, float | int]:
    """Dziugaite et al.'s sign error of `measure` for `target` (both in the table's units; `margin` in the
    target's units: pairs whose targets differ by less are dropped): the mean over environments, the worst
    environment's, and how many environments and pairs were scored."""
    errors, pairs = [], 0
    for axis in axes:
        for group in _groups(table, axis, axes):
            wrong = []
            for (_, a), (_, b) in itertools.combinations(group.iterrows(), 2):
                difference = a[target] - b[target]
                if abs(difference) <= margin or a[axis] == b[axis]:
                    continue
                agreement = np.sign(a[measure] - b[measure]) * np.sign(difference)
                wrong.append(0.5 if agreement == 0 else float(agreement < 0))
            if wrong:
                errors.append(float(np.mean(wrong)))
                pairs += len(wrong)
    if not errors:
        return {"average": float("nan"), "worst": float("nan"), "environments": 0, "pairs": 0}
    return {"average": float(np.mean(errors)), "worst": float(max(errors)), "environments": len(errors), "pairs": pairs}


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
        for key, value in statistics(pd.concat([groups[i] for i in picked], ignore_index=True)).items():
            draws.setdefault(key, [])
            if math.isfinite(value):
                draws[key].append(float(value))
    tail = (1 - confidence) / 2
    return {key: (float("nan"), float("nan"), values) if not values else (*map(float, np.quantile(values, [tail, 1 - tail])), values)
            for key, values in draws.items()}


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def conditional_mutual_information(
    table: pd.DataFrame, measure: str, axes: Sequence[str], *, max_conditioned: int = 2, target: str = "gap",
) -> dict[str, float]:
    """Jiang et al.'s conditional-independence score: over every pair of models (i < j), V_μ = sign of the
    measure's difference and V_g = sign of the target's (ties dropped), and for each set S of at most
    `max_conditioned` axes, U_S = both models' values on S. Î(S) = I(V_μ; V_g | U_S) / H(V_g | U_S), in
    [0, 1]: how much of the generalization order the measure tells once S is known. The score is the
    minimum over S — a measure that says nothing beyond some hyperparameters scores 0. Returns the score,
    the S that attains it (as "a+b"; "" for the empty set) and Î with S empty."""
    values = table[list(axes)].to_numpy()
    mu, g = table[measure].to_numpy(float), table[target].to_numpy(float)
    i, j = np.triu_indices(len(table), k=1)
    v_mu, v_g = np.sign(mu[j] - mu[i]), np.sign(g[j] - g[i])
    keep = (v_mu != 0) & (v_g != 0)
    i, j, v_mu, v_g = i[keep], j[keep], v_mu[keep], v_g[keep]
    scores = {}
    for size in range(max_conditioned + 1):
        for subset in itertools.combinations(range(len(axes)), size):
            key = "+".join(axes[k] for k in subset)
            u = [tuple(values[a, list(subset)]) + tuple(values[b, list(subset)]) for a, b in zip(i, j)] if subset else [()] * len(i)
            frame = pd.DataFrame({"u": u, "mu": v_mu, "g": v_g})
            information = entropy = 0.0
            for _, group in frame.groupby("u"):
                weight = len(group) / len(frame)
                joint = group.groupby(["mu", "g"]).size().to_numpy()
                h_g = _entropy(group.g.value_counts().to_numpy())
                information += weight * (_entropy(group.mu.value_counts().to_numpy()) + h_g - _entropy(joint))
                entropy += weight * h_g
            scores[key] = information / entropy if entropy > 0 else float("nan")
    defined = {k: v for k, v in scores.items() if not math.isnan(v)}
    worst = min(defined, key=defined.get) if defined else ""
    return {"score": defined.get(worst, float("nan")), "attained_by": worst, "unconditioned": scores.get("", float("nan"))}


def study_scores(
    table: pd.DataFrame, measures: Sequence[str], baselines: Sequence[str], axes: Sequence[str], *, margin: float,
    resamples: int, confidence: float, seed: int, target: str = "gap",
) -> pd.DataFrame:
    """One row per measure and per baseline (`kind`), every score of the study against `target`: τ over all
    models and Ψ, each with a bootstrap interval clustered by configuration (the `axes` values: a
    configuration's seeds go together); ψ per axis; the conditional mutual information score and the set
    that attains it; the average and worst sign error with the number of environments. `margin`: the
    sign error's noise filter, in the target's units (`hoeffding_margin` × 100 for a gap in points).

    `predicts` applies the study's rule: ψ above 0 on every axis, a worst-case sign error below ½ and a Ψ
    above every baseline's |Ψ| (a baseline's sign is not assumed); `why` names the first rule it fails."""
    kinds = {name: "measure" for name in measures} | {name: "baseline" for name in baselines}
    # a measure's models are the rows where it (and the target) is defined: measures defined on the same rows
    # share their bootstrap resamples (the same seed draws the same clusters), one resampled table per draw
    by_rows: dict[tuple[int, ...], list[str]] = {}
    for name in kinds:
        by_rows.setdefault(tuple(table.dropna(subset=[name, target]).index), []).append(name)
    scores = {}
    for index, names in by_rows.items():
        scored = table.loc[list(index)]

        def tau_and_psi(sample: pd.DataFrame, names: list[str] = names) -> dict[str, float]:
            values, gap = sample[names].to_numpy(float), sample[target].to_numpy(float)
            psi = _psi(values, gap, _group_positions(sample, axes))["Psi"]
            taus = kendall_tau_b(values, gap)
            return {f"{n}/tau": float(t) for n, t in zip(names, taus)} | {f"{n}/Psi": float(p) for n, p in zip(names, psi)}

        intervals = clustered_intervals(scored, tau_and_psi, list(axes), resamples=resamples, confidence=confidence, seed=seed)
        values, gap = scored[names].to_numpy(float), scored[target].to_numpy(float)
        taus, psis = kendall_tau_b(values, gap), _psi(values, gap, _group_positions(scored, axes))  # every name at once
        for k, name in enumerate(names):
            psi = {key: float(value[k]) for key, value in psis.items()}
            cmi = conditional_mutual_information(scored, name, axes, target=target)
            signs = sign_errors(scored, name, axes, margin=margin, target=target)
            (tau_low, tau_high, _), (psi_low, psi_high, _) = intervals[f"{name}/tau"], intervals[f"{name}/Psi"]
            scores[name] = {
                "name": name, "kind": kinds[name], "models": len(scored),
                "tau": float(taus[k]), "tau_low": tau_low, "tau_high": tau_high,
                **{f"psi_{axis}": psi[axis] for axis in axes}, "Psi": psi["Psi"], "Psi_low": psi_low, "Psi_high": psi_high,
                "cmi": cmi["score"], "cmi_given": cmi["attained_by"],
                "sign_error_average": signs["average"], "sign_error_worst": signs["worst"], "sign_environments": signs["environments"],
            }
    rows = [scores[name] for name in kinds]
    frame = pd.DataFrame(rows)
    best_baseline = frame.loc[frame.kind == "baseline", "Psi"].abs().max() if baselines else float("nan")

    def verdict(row: pd.Series) -> str:
        # a mean of τ's that is 0 exactly can come out ±1e-17 by the order of its sums: only more than TIE counts
        if row.kind == "baseline":
            return "a baseline"
        if not all(row[f"psi_{axis}"] > TIE for axis in axes):  # NaN (no group on that axis) fails too
            failing = [axis for axis in axes if not row[f"psi_{axis}"] > TIE]
            return f"ψ not above 0 for {', '.join(failing)}"
        if not row.sign_error_worst < 0.5 - TIE:
            return f"worst-case sign error {row.sign_error_worst:.2f} ≥ 0.5"
        if not math.isnan(best_baseline) and not row.Psi > best_baseline + TIE:
            return f"Ψ {row.Psi:.2f} not above the best baseline's |Ψ| {best_baseline:.2f}"
        return ""

    frame["why"] = frame.apply(verdict, axis=1)
    frame["predicts"] = (frame.kind == "measure") & (frame.why == "")
    return frame
