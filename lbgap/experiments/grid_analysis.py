"""What the learning-rate × batch-size grid says about the theories of why large batches find sharp minima
(docs/theory.md): fits on the grid's table (one row per run, `lbgap.experiments.grid.measure_run`), each with
a percentile-bootstrap interval that resamples runs as if they were independent. Runs of one seed share x0
and sample order; with one seed per cell the intervals measure how well the fit holds across cells, not how
much a run varies from seed to seed."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd


def _r_squared(design: np.ndarray, y: np.ndarray) -> float:
    """R² of the least-squares fit of y on the columns of `design` (a constant column included)."""
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())


def _adjusted(r2: float, runs: int, design: np.ndarray, fitted: int = 0) -> float:
    """R² adjusted for the design's columns beyond the constant and `fitted` parameters chosen outside the
    least squares (the exponent k), so that fits of different sizes compare."""
    predictors = design.shape[1] - 1 + fitted
    return 1.0 - (1.0 - r2) * (runs - 1) / max(1, runs - predictors - 1)


def _quadratic(*columns: np.ndarray) -> np.ndarray:
    """[1, each column, their squares and pairwise products]: a full quadratic in the columns."""
    terms = [np.ones_like(columns[0]), *columns, *(c * c for c in columns)]
    terms += [a * b for i, a in enumerate(columns) for b in columns[i + 1 :]]
    return np.stack(terms, axis=1)


def _best_exponent(log_lr: np.ndarray, log_batch: np.ndarray, y: np.ndarray, exponents: np.ndarray) -> tuple[float, float]:
    fits = [_r_squared(_quadratic(log_lr - k * log_batch), y) for k in exponents]
    best = int(np.argmax(fits))
    return float(exponents[best]), fits[best]


def temperature_fit(
    learning_rates: np.ndarray, batch_sizes: np.ndarray, y: np.ndarray, *, resamples: int, confidence: float, seed: int,
    exponents: np.ndarray = np.linspace(0.0, 2.0, 201),
) -> dict[str, float | int | bool]:
    """Does y (e.g. test accuracy of runs at the target loss) depend on η and B only through the
    "temperature" η / B^k? y is modelled as a quadratic g(log η − k·log B), and k is the exponent (on the grid
    `exponents`) with the best least-squares fit: k = 1 is the linear scaling rule, k = ½ the square-root rule,
    k = 0 no dependence on B at all. Returns k with its percentile-bootstrap interval (runs resampled, as
    if independent; `draws`: the resamples that still had enough cells), whether k sits at the edge of
    `exponents` (then the data do not pin it), and the adjusted R² of y as a quadratic in the ratio at k, in
    log η alone, in log B alone and in both (with their product) — k counted as a parameter of the ratio's
    fit: a ratio that explains about what both explain is a sufficient statistic here. At least `MIN_CELLS` distinct (η, B) cells are needed."""
    log_lr, log_batch, y = np.log(learning_rates), np.log(batch_sizes), np.asarray(y, dtype=float)
    _identifiable(log_lr, log_batch)
    k, r2_ratio = _best_exponent(log_lr, log_batch, y, exponents)
    generator = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        index = generator.integers(0, len(y), len(y))
        if _cells(log_lr[index], log_batch[index]) >= MIN_CELLS:
            draws.append(_best_exponent(log_lr[index], log_batch[index], y[index], exponents)[0])
    low, high = _percentile_interval(draws, confidence)
    adjusted = {name: _adjusted(_r_squared(design, y), len(y), design, fitted) for name, design, fitted in (
        ("r2_ratio", _quadratic(log_lr - k * log_batch), 1), ("r2_lr", _quadratic(log_lr), 0), ("r2_batch", _quadratic(log_batch), 0),
        ("r2_both", _quadratic(log_lr, log_batch), 0))}
    return {"k": k, "k_low": low, "k_high": high, "k_at_edge": bool(k in (exponents[0], exponents[-1])),
            "draws": len(draws), "runs": int(len(y)), "cells": _cells(log_lr, log_batch), **adjusted}


MIN_CELLS = 6  # distinct (η, B) pairs a fit of a quadratic in two variables needs at the least


def _cells(log_lr: np.ndarray, log_batch: np.ndarray) -> int:
    return len(set(zip(np.round(log_lr, 9), np.round(log_batch, 9))))


def _identifiable(log_lr: np.ndarray, log_batch: np.ndarray) -> None:
    if len(np.unique(log_batch)) < 2 or len(np.unique(log_lr)) < 2 or _cells(log_lr, log_batch) < MIN_CELLS:
        raise ValueError(f"the fit needs at least {MIN_CELLS} distinct (learning rate, batch size) cells over at least 2 "
                         "learning rates and 2 batch sizes")


def _percentile_interval(draws: Sequence[float], confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(draws, dtype=float), [tail, 1 - tail])
    return float(low), float(high)


def batch_effect(
    learning_rates: np.ndarray, batch_sizes: np.ndarray, y: np.ndarray, *, resamples: int, confidence: float, seed: int,
    exponents: np.ndarray = np.linspace(0.0, 2.0, 201),
) -> dict[str, float | int | bool]:
    """Keskar et al.'s claim on equal footing: y ~ quadratic(log η − k·log B) + c·log₂ B, k and c fitted
    together (k profiled over `exponents`, c by least squares at each k): c is how y changes per doubling of
    the batch size at equal temperature η/B^k — a model that competes with `temperature_fit`'s (the ratio alone):
`r2_adjusted` is its adjusted R², to set beside that fit's `r2_ratio`, and its k can differ from that fit's. The linear term of the quadratic and c·log₂ B both move y
    along log B, so k is pinned only by the quadratic's curvature; both are refitted in every resample
    (percentile-bootstrap interval of c, runs resampled), and a k at the edge of `exponents` is flagged. For y
    the test accuracy of runs at one training loss, an interval of c below 0 says larger batches still
    generalize worse at equal temperature and loss; an interval around 0 says the temperature explains it."""
    log_lr, log_batch, y = np.log(learning_rates), np.log(batch_sizes), np.asarray(y, dtype=float)
    _identifiable(log_lr, log_batch)

    def design_at(k: float, index: np.ndarray) -> np.ndarray:
        return np.column_stack([_quadratic(log_lr[index] - k * log_batch[index]), log_batch[index] / np.log(2)])

    def fit(index: np.ndarray) -> tuple[float, float]:
        best = (-np.inf, 0.0, 0.0)
        for k in exponents:
            design = design_at(k, index)
            coefficients, *_ = np.linalg.lstsq(design, y[index], rcond=None)
            residual = y[index] - design @ coefficients
            best = max(best, (-float(residual @ residual), float(k), float(coefficients[-1])))
        return best[1], best[2]

    everything = np.arange(len(y))
    k, per_doubling = fit(everything)
    design = design_at(k, everything)
    # the same model counted as temperature_fit counts its ratio's (k a parameter): compare with its r2_ratio
    r2_adjusted = _adjusted(_r_squared(design, y), len(y), design, fitted=1)
    generator = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        index = generator.integers(0, len(y), len(y))
        if _cells(log_lr[index], log_batch[index]) >= MIN_CELLS:
            draws.append(fit(index)[1])
    low, high = _percentile_interval(draws, confidence)
    return {"per_doubling": per_doubling, "low": low, "high": high, "k": k, "k_at_edge": bool(k in (exponents[0], exponents[-1])),
            "r2_adjusted": r2_adjusted, "draws": len(draws), "runs": int(len(y))}


def critical_batch(
    learning_rates: np.ndarray, batch_sizes: np.ndarray, steps: np.ndarray, *, resamples: int, confidence: float, seed: int,
) -> dict:
    """Steps to the target against the batch size, each batch size at its best learning rate (Shallue et al.
    2019: the fewest mean steps over seeds among its learning rates), fitted as S(B) = S_min·(1 + B_crit / B)
    (McCandlish et al. 2018) by least squares weighted by 1/S² (relative errors, so the small batches' many
    steps do not dominate): S_min, the fewest steps any batch size could need, and B_crit, the batch size
    above which doubling it no longer halves the steps. One entry per run that reached the target. A batch
    size whose best learning rate is the smallest or largest of its grid is listed in `best_at_grid_edge`:
    its best may lie outside the grid. The interval resamples seeds within each (B, η) cell and is None when
    every cell has one run (`why_no_interval`); resamples that give no finite fit are dropped (`draws` kept)."""
    frame = pd.DataFrame({"lr": np.asarray(learning_rates, float), "batch": np.asarray(batch_sizes, float),
                          "steps": np.asarray(steps, float)})
    sizes = np.sort(frame.batch.unique())
    if len(sizes) < 3:
        raise ValueError("the fit needs runs at 3 or more batch sizes")
    cells = {key: group.steps.to_numpy() for key, group in frame.groupby(["batch", "lr"])}

    def fit(mean_steps: dict) -> tuple[float, float, dict]:
        best = {b: min((s, lr) for (bb, lr), s in mean_steps.items() if bb == b) for b in sizes}
        fewest = np.array([best[b][0] for b in sizes])
        design = np.column_stack([np.ones_like(sizes), 1 / sizes]) / fewest[:, None]
        (s_min, slope), *_ = np.linalg.lstsq(design, np.ones_like(sizes), rcond=None)
        return float(s_min), float(slope / s_min) if s_min > 0 else float("inf"), best

    s_min, b_crit, best = fit({key: values.mean() for key, values in cells.items()})
    if not (s_min > 0 and 0 < b_crit < np.inf):
        raise ValueError(f"steps to the target do not fall with the batch size as S_min (1 + B_crit / B) does "
                         f"(fitted S_min {s_min:.3g}, B_crit {b_crit:.3g})")
    edges = [int(b) for b in sizes if best[b][1] in (frame[frame.batch == b].lr.min(), frame[frame.batch == b].lr.max())]
    out = {"steps_min": s_min, "critical_batch": b_crit, "batch_sizes": [int(b) for b in sizes],
           "fewest_steps": [float(best[b][0]) for b in sizes], "best_learning_rates": [float(best[b][1]) for b in sizes],
           "best_at_grid_edge": edges}
    if max(len(v) for v in cells.values()) < 2:  # a cell one run reached keeps its value in every resample
        return {**out, "critical_batch_low": None, "critical_batch_high": None, "draws": 0,
                "why_no_interval": "one seed per (batch size, learning rate): nothing to resample"}
    generator = np.random.default_rng(seed)
    draws = [fit({key: generator.choice(v, len(v)).mean() for key, v in cells.items()})[1] for _ in range(resamples)]
    finite = [d for d in draws if np.isfinite(d)]
    low, high = _percentile_interval(finite, confidence) if finite else (None, None)
    return {**out, "critical_batch_low": low, "critical_batch_high": high, "draws": len(finite)}


def steps_scaling(
    learning_rates: np.ndarray, batch_sizes: np.ndarray, steps: np.ndarray, *, resamples: int, confidence: float, seed: int,
) -> dict:
    """How the steps to the target fall with the batch size, each batch size at its best learning rate (the fewest
    mean steps over seeds among its learning rates, as `critical_batch` takes them), read without a model: the
    least-squares slope of log₂ steps on log₂ B over the batch sizes (−1: doubling the batch halves the steps,
    Shallue et al.'s perfect scaling; 0: no gain) and, per doubling between neighbouring batch sizes, the
    ratio of their steps scaled to one doubling (0.5 perfect, 1 none), each with a percentile interval from
    resampling seeds within each (B, η) cell — the best learning rate re-chosen in every resample. The
    answer where `critical_batch`'s curve does not fit: a B_crit beyond the grid when the steps still halve
    at its largest batch. None intervals when every cell has one run (`why_no_interval`)."""
    frame = pd.DataFrame({"lr": np.asarray(learning_rates, float), "batch": np.asarray(batch_sizes, float),
                          "steps": np.asarray(steps, float)})
    sizes = np.sort(frame.batch.unique())
    if len(sizes) < 3:
        raise ValueError("the slope needs runs at 3 or more batch sizes")
    cells = {key: group.steps.to_numpy() for key, group in frame.groupby(["batch", "lr"])}
    doublings = np.log2(sizes)

    def fit(mean_steps: dict) -> tuple[float, np.ndarray]:
        fewest = np.log2([min(s for (b, _), s in mean_steps.items() if b == size) for size in sizes])
        slope = float(np.polyfit(doublings, fewest, 1)[0])
        return slope, 2.0 ** (np.diff(fewest) / np.diff(doublings))

    slope, ratios = fit({key: values.mean() for key, values in cells.items()})
    out = {"slope": slope, "batch_sizes": [int(b) for b in sizes],
           "per_doubling": [{"from": int(a), "to": int(b), "ratio": float(r)} for a, b, r in zip(sizes, sizes[1:], ratios)]}
    if max(len(v) for v in cells.values()) < 2:  # a cell one run reached keeps its value in every resample
        return {**out, "slope_low": None, "slope_high": None, "draws": 0,
                "why_no_interval": "one seed per (batch size, learning rate): nothing to resample"}
    generator = np.random.default_rng(seed)
    draws = [fit({key: generator.choice(v, len(v)).mean() for key, v in cells.items()}) for _ in range(resamples)]
    low, high = _percentile_interval([d[0] for d in draws], confidence)
    for i, pair in enumerate(out["per_doubling"]):
        pair["low"], pair["high"] = _percentile_interval([d[1][i] for d in draws], confidence)
    return {**out, "slope_low": low, "slope_high": high, "draws": len(draws)}


def sharpness_scaling(learning_rates: np.ndarray, batch_sizes: np.ndarray, sharpness: np.ndarray, *, resamples: int,
                      confidence: float, seed: int) -> dict[str, float]:
    """What sets the sharpness a run ends at: the least-squares slopes of log sharpness on log η and on
    log B together, each with its percentile-bootstrap interval (runs resampled). At the edge of stability
    the sharpness follows the threshold ∝ 1/η (slope −1 on log η) whatever the batch; a sharpness set by
    the batch size shows as a slope on log B. All runs enter, whatever their distance to the edge: picking
    the runs near it would pick large sharpness × η and push the slope to −1 by selection alone."""
    if (sharpness <= 0).any():
        raise ValueError("a training sharpness ≤ 0 has no logarithm")
    if len(np.unique(learning_rates)) < 3 or len(np.unique(batch_sizes)) < 2 or len(sharpness) < 6:
        raise ValueError("the fit needs at least 6 runs over at least 3 learning rates and 2 batch sizes")
    design_of = lambda index: np.column_stack([np.ones(len(index)), np.log(learning_rates[index]), np.log(batch_sizes[index])])  # noqa: E731
    target = np.log(np.asarray(sharpness, dtype=float))

    def slopes(index: np.ndarray) -> np.ndarray:
        return np.linalg.lstsq(design_of(index), target[index], rcond=None)[0][1:]

    generator = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        index = generator.integers(0, len(target), len(target))
        if len(np.unique(learning_rates[index])) > 1 and len(np.unique(batch_sizes[index])) > 1:
            draws.append(slopes(index))
    draws = np.array(draws)
    lr_low, lr_high = _percentile_interval(draws[:, 0], confidence)
    batch_low, batch_high = _percentile_interval(draws[:, 1], confidence)
    lr_slope, batch_slope = slopes(np.arange(len(target)))
    return {"lr_slope": float(lr_slope), "lr_slope_low": lr_low, "lr_slope_high": lr_high,
            "batch_slope": float(batch_slope), "batch_slope_low": batch_low, "batch_slope_high": batch_high}


EDGE_COLUMNS = ["optimizer", "batch_size", "learning_rate", "seed", "epoch", "train_loss", "training_sharpness", "stability_ratio",
                "end", "reached"]
NEAR_EDGE = 0.8  # a record with sharpness / threshold at least this is counted as near the edge


def edge_table(cells: Sequence[Mapping]) -> pd.DataFrame:
    """The grid cells' edge traces (`lbgap.experiments.grid.grid_cell`) as one table, one row per record, columns
    `EDGE_COLUMNS`; a cell written without a trace adds none."""
    rows = [{"optimizer": cell["optimizer"], "batch_size": cell["batch_size"], **point} for cell in cells for point in cell.get("edge_trace", [])]
    return pd.DataFrame(rows, columns=EDGE_COLUMNS)


def edge_along_training(trace: pd.DataFrame) -> dict:
    """By batch size, over the traced runs that reached the target: the median stability ratio (training
    sharpness over its threshold) at the start (x0; None for Adam, which has no preconditioner yet), and after
    it — every record from the first `edge_every` epochs on, the end included — the median and largest of the
    runs' peak ratios, the median epoch of the peak, the share of runs whose ratio exceeded 1 at some record
    (the quadratic model says they could not stay there) and the share of records at or above `NEAR_EDGE`
    (hovering at the edge, as Cohen et al. see full-batch training do, would put most records there). The
    start is kept apart: a ratio above 1 at x0 concerns the first steps, not where training settles. Records
    are every few epochs — fewer steps apart at larger batches — so a brief excursion between them is missed:
    the peaks are lower bounds."""
    found = {}
    trace = trace[trace.reached.astype(bool)]
    for batch, group in trace.groupby("batch_size"):
        end = group.end.astype(bool)
        start = group[(group.epoch == 0) & ~end].stability_ratio.dropna()
        later = group[(group.epoch > 0) | end].dropna(subset=["stability_ratio"])
        if later.empty:
            continue
        peaks = later.loc[later.groupby(["learning_rate", "seed"]).stability_ratio.idxmax()]
        found[str(int(batch))] = {
            "runs": int(len(peaks)), "start_ratio_median": float(start.median()) if len(start) else None,
            "peak_ratio_median": float(peaks.stability_ratio.median()), "peak_ratio_max": float(peaks.stability_ratio.max()),
            "peak_epoch_median": float(peaks.epoch.median()), "above_edge": float((peaks.stability_ratio > 1).mean()),
            "near_edge": float((later.stability_ratio >= NEAR_EDGE).mean()),
        }
    return found


def grid_summary(frame: pd.DataFrame, trace: pd.DataFrame | None = None, *, resamples: int, confidence: float, seed: int) -> dict:
    """The theories' predictions on the grid's table (`measure_run` rows), per optimizer, over the runs that
    reached the target without diverging: the temperature exponent k for test accuracy (`temperature_fit`),
    the batch effect at equal temperature (`batch_effect`), the exponent k for log φ at the target
    (`sharpness_temperature`), the critical batch size (`critical_batch`, needing 3 batch sizes) and the
    slope of the steps on the batch size (`steps_scaling`) beside the median gradient noise scale B_simple of
    those runs (measured at the same training loss; its quartiles and how many runs left it undefined),
    what sets the training sharpness (`sharpness_scaling`), and by batch size the stability ratio's median and
    the share of runs above their edge (ratio > 1: the quadratic model says they could not stay there), and
    from `trace` (`edge_table`) the same along training (`edge_along_training`). A prediction a grid is too
    small for is None, with the reason."""
    options = {"resamples": resamples, "confidence": confidence, "seed": seed}
    out = {}
    for optimizer, runs in frame.groupby("optimizer", sort=False):
        reached = runs[runs.reached.astype(bool) & ~runs.diverged.astype(bool)]
        lr, batch = reached.learning_rate.to_numpy(float), reached.batch_size.to_numpy(float)
        found: dict = {"runs": int(len(runs)), "reached": int(len(reached))}
        phi = reached["phi"].to_numpy(float) if "phi" in reached else np.full(len(reached), np.nan)
        measured = np.isfinite(phi) & (phi > 0)  # a logarithm: φ measured and positive
        for name, compute in (
            ("temperature", lambda: temperature_fit(lr, batch, reached.test_accuracy.to_numpy(float), **options)),
            ("batch_effect", lambda: batch_effect(lr, batch, reached.test_accuracy.to_numpy(float), **options)),
            ("sharpness_temperature", lambda: temperature_fit(lr[measured], batch[measured], np.log(phi[measured]), **options)),
            ("critical_batch", lambda: critical_batch(lr, batch, reached.steps.to_numpy(float), **options)),
            ("steps_scaling", lambda: steps_scaling(lr, batch, reached.steps.to_numpy(float), **options)),
            ("sharpness_scaling", lambda: sharpness_scaling(lr, batch, reached.training_sharpness.to_numpy(float), **options)),
        ):
            try:
                found[name] = compute()
            except (ValueError, np.linalg.LinAlgError) as error:
                found[name] = None
                found[f"{name}_why_not"] = str(error)
        if "noise_scale" in reached and reached.noise_scale.notna().any():
            # an undefined estimate (its |G|² or tr Σ not positive) is left out: the median is over the others
            defined = reached.noise_scale.dropna()
            found["noise_scale_median"] = float(defined.median())
            found["noise_scale_quartiles"] = [float(q) for q in defined.quantile([0.25, 0.75])]
            found["noise_scale_undefined"] = int(reached.noise_scale.isna().sum())
        found["stability"] = {
            str(int(b)): {"median_ratio": float(group.stability_ratio.median()), "above_edge": float((group.stability_ratio > 1).mean()),
                          "runs": int(len(group))}
            for b, group in reached.groupby("batch_size")
        }
        traced = trace[trace.optimizer == optimizer] if trace is not None else pd.DataFrame()
        if len(traced):
            found["edge_along_training"] = edge_along_training(traced)
        found["unreached_by_batch"] = {str(int(b)): int((~group.reached.astype(bool)).sum()) for b, group in runs.groupby("batch_size")}
        found["diverged"] = int(runs.diverged.astype(bool).sum())
        out[str(optimizer)] = found
    return out

