"""Which measure predicts generalization: the τ table with intervals, a verdict per measure and a figure,
from the predictors stage's outputs (lbgap.experiments.predictors)."""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lbgap.report.tables import markdown_table  # noqa: E402

NAMES = {
    "train_loss": "train loss (control)", "lambda_max": "λ_max", "trace": "tr H", "inverse_sigma_sq_absolute": "1/σ² (PAC-Bayes, absolute)",
    "inverse_sigma_sq_magnitude": "1/σ² (PAC-Bayes, magnitude-aware)", "distance_from_x0": "‖x − x0‖",
    "noise_scale": "noise scale B_simple", "log_spectral_product": "log ∏ spectral norms", "log_frobenius_product": "log ∏ Frobenius norms",
    "path_norm": "path norm", "lr_over_batch": "η / B", "lr_over_sqrt_batch": "η / √B", "steps_from_milestone": "steps from the milestone loss",
}


def measure_name(key: str) -> str:
    """A readable name for a measure column: phi_full_eps_1e-03 → 'φ full ε=1e-03', adaptive_eta_0 → 'adaptive φ η=0'."""
    if key in NAMES:
        return NAMES[key]
    if match := re.fullmatch(r"phi_(full|subspace)_eps_(.+)", key):
        return f"φ {match[1]} ε={match[2]}"
    if match := re.fullmatch(r"adaptive_eta_(.+)", key):
        return f"adaptive φ η={match[1]}"
    return key


def verdict(all_row: Mapping, within_row: Mapping) -> str:
    """From the intervals of τ with the gap: 'predicts' / 'inverse' — the within-batch interval lies above /
    below 0; else 'separates batch sizes only' (or '…, inversely') — the interval over all solutions lies
    above (below) 0; 'not tested within batch' — no group of ≥ 3 solutions, so the overall interval alone
    says nothing about ranking within a batch size; 'no' otherwise."""
    if not math.isfinite(within_row["tau"]):
        return "not tested within batch"
    if within_row["low"] > 0:
        return "predicts"
    if within_row["high"] < 0:
        return "inverse"
    if all_row["low"] > 0:
        return "separates batch sizes only"
    if all_row["high"] < 0:
        return "separates batch sizes only, inversely"
    return "no"


def tau_cell(row: Mapping) -> str:
    if row["tau"] is None or math.isnan(row["tau"]):
        return "–"
    return f"{row['tau']:+.2f} [{row['low']:+.2f}, {row['high']:+.2f}]"


def tau_frame(taus: Sequence[Mapping]) -> pd.DataFrame:
    """One row per measure: τ and interval with the gap and with the test loss, overall and within, and the
    verdict on the gap."""
    frame = pd.DataFrame(taus)
    rows = []
    for measure, group in frame.groupby("measure", sort=False):
        get = {(r["target"], r["scope"]): r for r in group.to_dict(orient="records")}
        rows.append({
            "measure": measure, "tau_all": get[("gap", "all")]["tau"], "low_all": get[("gap", "all")]["low"],
            "high_all": get[("gap", "all")]["high"], "tau_within": get[("gap", "within")]["tau"],
            "low_within": get[("gap", "within")]["low"], "high_within": get[("gap", "within")]["high"],
            "tau_loss_all": get[("test_loss", "all")]["tau"], "tau_loss_within": get[("test_loss", "within")]["tau"],
            "verdict": verdict(get[("gap", "all")], get[("gap", "within")]),
            "_cells": {k: tau_cell(v) for k, v in get.items()},
        })
    return pd.DataFrame(rows)


def tau_table(frame: pd.DataFrame) -> str:
    table = [{
        "measure": measure_name(r["measure"]), "τ gap, all": r["_cells"][("gap", "all")],
        "τ gap, within batch": r["_cells"][("gap", "within")], "τ test loss, all": r["_cells"][("test_loss", "all")],
        "τ test loss, within batch": r["_cells"][("test_loss", "within")], "verdict (gap)": r["verdict"],
    } for r in frame.to_dict(orient="records")]
    return markdown_table(pd.DataFrame(table))


def tau_figure(frame: pd.DataFrame, confidence: float) -> Figure:
    """Horizontal bars: τ with the generalization gap, over all solutions and within batch size, with intervals."""
    figure, axis = plt.subplots(figsize=(7.5, 0.42 * len(frame) + 1.4))
    y = np.arange(len(frame))
    for offset, scope, color in ((-0.2, "all", "tab:gray"), (0.2, "within", "tab:green")):
        axis.barh(y + offset, frame[f"tau_{scope}"].to_numpy(dtype=float), height=0.38, color=color,
                  label="all solutions" if scope == "all" else "within equal batch size")
        # the interval as drawn by the bootstrap (a percentile interval need not contain the point estimate)
        axis.hlines(y + offset, frame[f"low_{scope}"].to_numpy(dtype=float), frame[f"high_{scope}"].to_numpy(dtype=float), color="black", lw=1)
    axis.set_yticks(y, [measure_name(m) for m in frame.measure])
    axis.invert_yaxis()
    axis.axvline(0, color="0.3", lw=0.8)
    axis.set_xlim(-1, 1)
    axis.set_xlabel(f"Kendall τ with the generalization gap (train − test accuracy); {100 * confidence:g} % bootstrap intervals")
    axis.set_title("Which measure ranks solutions by their generalization gap?")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.legend(*axis.get_legend_handles_labels(), fontsize="small", loc="lower center", ncol=2, frameon=False)  # below: covers no interval
    return figure


def tau_plot_data(frame: pd.DataFrame) -> pd.DataFrame:
    """plots/predictors_tau.csv: measure name and τ with the gap, overall and within (for dvc plots)."""
    return pd.DataFrame({"measure": [measure_name(m) for m in frame.measure], "tau_all": frame.tau_all, "tau_within": frame.tau_within})
