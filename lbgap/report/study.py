"""The report's section on the designed predictor study: per measure and baseline, τ and Ψ with their
configuration-clustered intervals, ψ on each axis, the conditional mutual information and the sign errors
(lbgap.experiments.study.study_summary), which measures pass the study's rule, and a figure of ψ per axis."""

from __future__ import annotations

import math
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lbgap.report.predictors import measure_name
from lbgap.report.tables import markdown_table

NOT_SHOWN = (
    "What this does not show: the study is one network family on one data set, and the default runs only a "
    "small design (`study` in params.yaml; the full one is a `-S` away); runs that missed the target are "
    "excluded, as Jiang et al. exclude them, which can remove a corner of the design; with few configurations "
    "per axis a ψ rests on few groups, and the intervals resample whole configurations, so they are wide; "
    "a measure that predicts here is not shown to predict elsewhere."
)


def _number(value, digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.{digits}f}"


def scores_table(summary: Mapping) -> str:
    """One row per measure and baseline (baselines last), the scores as the rule reads them."""
    rows = []
    for r in summary["scores"]:
        rows.append({
            "measure": r["name"] + (" (baseline)" if r["kind"] == "baseline" else ""),
            "τ": f"{_number(r['tau'])} [{_number(r['tau_low'])}, {_number(r['tau_high'])}]",
            "Ψ": f"{_number(r['Psi'])} [{_number(r['Psi_low'])}, {_number(r['Psi_high'])}]",
            **{f"ψ {axis}": _number(r[f"psi_{axis}"]) for axis in summary["axes"]},
            "CMI (given)": "—" if r["cmi"] is None or math.isnan(r["cmi"]) else f"{r['cmi']:.2f} ({r['cmi_given'] or '∅'})",
            "sign error avg / worst": "—" if r["sign_environments"] == 0 else
            f"{r['sign_error_average']:.2f} / {r['sign_error_worst']:.2f}",
            "predicts": "yes" if r["predicts"] else ("" if r["kind"] == "baseline" else f"no: {r['why']}"),
        })
    return markdown_table(pd.DataFrame(rows))


def verdict(summary: Mapping) -> str:
    """The study's answer in one sentence: which measures pass its rule, if any."""
    passing = [r["name"] for r in summary["scores"] if r["predicts"]]
    if not summary["scores"]:
        return f"No scores: {summary.get('why_no_scores', 'nothing to score')}."
    if passing:
        return (f"By the study's rule, {', '.join(passing)} predict{'s' if len(passing) == 1 else ''} the generalization gap "
                "here: ψ above 0 on every axis, a worst-case sign error below ½ and a Ψ above every baseline's.")
    return ("By the study's rule (ψ above 0 on every axis, a worst-case sign error below ½, a Ψ above every baseline's), "
            "no measure predicts the generalization gap here; the table says where each fails.")


def _tau_with_interval(tau: Mapping | None) -> str:
    return "—" if tau is None else f"{_number(tau['tau'])} [{_number(tau['low'])}, {_number(tau['high'])}]"


def out_of_grid_text(summary: Mapping, predictors: Mapping) -> str:
    """The out-of-grid check: how do the measures that pass the rule on the grid (else the measure with the
    highest Ψ) rank this run's own solutions — the ones the predictors stage ranks (SB, LB, remedies, sweep
    points, warm starts that fit the training set): its τ with the gap (`predictors`: its document), over all
    and within batch size? Descriptive."""
    taus = predictors["tau"]
    measures = [r for r in summary["scores"] if r["kind"] == "measure" and r["Psi"] is not None and not math.isnan(r["Psi"])]
    passing = [r["name"] for r in measures if r["predicts"]]
    names = passing or ([max(measures, key=lambda r: r["Psi"])["name"]] if measures else [])
    by_key = {(t["measure"], t["scope"]): t for t in taus if t["target"] == "gap"}
    ranked = [n for n in names if (n, "all") in by_key]
    if not ranked:
        return ("Out-of-grid check: none of the grid's measures is among those the predictors section ranks, so the "
                "remedies and warm starts say nothing about the grid's verdict here.")
    lead = ("the measures that pass the rule on the grid, and their" if passing else
            f"no measure passes the rule on the grid; the one with the highest Ψ, {measure_name(ranked[0])}, and its")
    ranks = "; ".join(f"{measure_name(n)}: τ {_tau_with_interval(by_key.get((n, 'all')))} over all, "
                      f"{_tau_with_interval(by_key.get((n, 'within')))} within batch size" for n in ranked)
    return (f"Out-of-grid check, on this run's own solutions — the {predictors['included']} of {predictors['solutions']} "
            f"the predictors section ranks (SB, LB, remedies, sweep points and warm starts that fit the training set): "
            f"{lead} τ with the gap there — {ranks}. Descriptive only: those solutions were not designed as a "
            "study (runs share starts, the warm starts one SB run), and a grid as small as the default decides "
            "nothing, so agreement or not neither confirms nor refutes the grid.")


def study_section_text(summary: Mapping, study: Mapping, target_loss: float, link, predictors: Mapping | None = None) -> str:
    axes = ", ".join(summary["axes"]) or "none"
    return f"""## Which measure predicts generalization: a designed study

Every configuration of the design — batch sizes {', '.join(map(str, study['batch_sizes']))}, learning rates
{', '.join(f'{v:g}' for v in study['learning_rates'])}, widths {', '.join(map(str, study['widths']))}, depths
{', '.join(map(str, study['depths']))}, weight decays {', '.join(f'{v:g}' for v in study['weight_decays'])}, dropouts
{', '.join(f'{v:g}' for v in study['dropouts'])}, {study['seeds']} seed(s) each — trained with SGD until its training loss
first reached {target_loss:g} (at most {study['max_epochs']} epochs) and was measured there: {summary['models']} models,
{summary['reached']} reached the target and are scored, {summary['excluded']} did not (`plots/study.csv`). Scored against the
gap (train − test accuracy, points) on the axes that vary ({axes}), as Jiang et al. (2020) and Dziugaite et al. (2020)
score: τ over all models; ψ, τ within groups where only one axis changes, and its mean Ψ; the conditional mutual
information, minimum over conditioning on up to two axes; the sign error over pairs that differ in one axis,
pairs within {summary['margin_points']:.1f} points of each other (test-set noise at δ = {summary['delta']:g}) dropped.
Intervals: {100 * summary['confidence']:g} % bootstrap, whole configurations resampled.

{scores_table(summary) if summary['scores'] else ''}

{verdict(summary)}{(chr(10) * 2 + out_of_grid_text(summary, predictors)) if summary['scores'] and predictors else ''}

{NOT_SHOWN}

![study]({link('study')})"""


def _networks(counts: list[int]) -> str:
    """How many networks the scores rest on: each measure is scored where it is defined."""
    low, high = min(counts), max(counts)
    return f"{high} networks" if low == high else f"{low}–{high} networks (each measure where it is defined)"


def study_figure(summary: Mapping) -> Figure:
    """ψ of every measure and baseline on each axis (a diverging heat map, blank where undefined), beside
    Ψ with its interval; baselines below a line."""
    scores = summary["scores"]
    figure, (heat, bars) = plt.subplots(1, 2, figsize=(11, 0.35 * max(len(scores), 4) + 1.8),
                                        gridspec_kw={"width_ratios": [max(len(summary["axes"]), 1), 2]})
    if not scores:
        for axis in (heat, bars):
            axis.axis("off")
        heat.text(0.5, 0.5, f"no scores: {summary.get('why_no_scores', '')}", ha="center", va="center", transform=heat.transAxes)
        return figure
    names = [measure_name(r["name"]) + (" (baseline)" if r["kind"] == "baseline" else "") for r in scores]
    psi = np.array([[np.nan if r[f"psi_{a}"] is None else r[f"psi_{a}"] for a in summary["axes"]] for r in scores], dtype=float)
    image = heat.imshow(np.ma.masked_invalid(psi), cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    heat.set(xticks=range(len(summary["axes"])), xticklabels=[a.replace("_", " ") for a in summary["axes"]], yticks=range(len(names)), yticklabels=names,
             title="ψ: τ with the gap when one axis changes")
    heat.tick_params(axis="x", rotation=30)
    figure.colorbar(image, ax=heat, fraction=0.05)
    y = np.arange(len(scores))
    value = np.array([r["Psi"] for r in scores], dtype=float)
    low, high = (np.array([r[k] for r in scores], dtype=float) for k in ("Psi_low", "Psi_high"))
    colours = ["tab:green" if r["predicts"] else ("tab:gray" if r["kind"] == "baseline" else "tab:orange") for r in scores]
    kinds = {"tab:green": "measure: predicts by the rule", "tab:orange": "measure: does not", "tab:gray": "baseline"}
    legend = [Patch(color=colour, label=label) for colour, label in kinds.items() if colour in colours]  # the kinds drawn
    bars.barh(y, value, color=colours)
    bars.errorbar(value, y, xerr=[np.nan_to_num(value - low), np.nan_to_num(high - value)], fmt="none", color="black", capsize=2)
    bars.axvline(0, color="black", linewidth=0.8)
    confidence = summary.get("confidence")
    bars.set(yticks=y, yticklabels=[], xlim=(-1, 1), ylim=(len(y) - 0.5, -0.5),
             xlabel="Ψ (mean ψ)" + (f", {100 * confidence:g} % interval resampling configurations" if confidence else " with its interval"),
             title=f"Ψ over {_networks([r['models'] for r in scores])}")
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.legend(handles=legend, loc="lower right", ncol=3, fontsize="small", frameon=False)
    return figure
