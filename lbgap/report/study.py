"""The report's section on the designed predictor study: per measure and baseline, τ and Ψ with their
configuration-clustered intervals, ψ on each axis, the conditional mutual information and the sign errors
(lbgap.experiments.study_summary), which measures pass the study's rule, and a figure of the scores."""

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


def _number(value, signed: bool = True) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:{'+' if signed else ''}.2f}"


def _with_interval(r: Mapping, key: str, signed: bool = True) -> str:
    if r.get(f"{key}_low") is None:
        return _number(r[key], signed)
    return f"{_number(r[key], signed)} [{_number(r[f'{key}_low'], signed)}, {_number(r[f'{key}_high'], signed)}]"


def _label(r: Mapping) -> str:
    if r["kind"] != "baseline":
        return r["name"]
    return r["name"] + (" (baseline, reversed)" if r.get("orientation", 1) < 0 else " (baseline)")


def _sign_error(r: Mapping, prefix: str) -> str:
    """A reading's average / worst sign error with intervals; — where no environment kept a pair."""
    if not r.get(prefix.replace("sign_error", "sign_environments")):
        return "—"
    return f"{_with_interval(r, f'{prefix}_average', signed=False)} / {_with_interval(r, f'{prefix}_worst', signed=False)}"


def scores_table(summary: Mapping) -> str:
    """One row per measure and baseline (baselines last), the scores the rule reads first, with intervals."""
    rows = []
    for r in summary["scores"]:
        rows.append({
            "measure": _label(r),
            "Ψ, seeds averaged (the rule's)": _with_interval(r, "Psi_seeds_averaged"),
            f"Ψ − {r['best_baseline'] or 'best baseline'}'s (where both are defined)": "" if r["kind"] == "baseline" else
            _with_interval(r, "Psi_minus_best_baseline"),
            "Ψ, every network": _with_interval(r, "Psi"),
            "τ": _with_interval(r, "tau"),
            "CMI (given)": "—" if r["cmi"] is None or math.isnan(r["cmi"]) else f"{_with_interval(r, 'cmi', signed=False)} ({r['cmi_given'] or '∅'})",
            f"sign error avg / worst (δ = {summary['delta']:g}, the rule's)": _sign_error(r, "sign_error"),
            f"sign error avg / worst (Dziugaite's ½ weight, {summary['dziugaite_margin_points']:.1f} points)": _sign_error(r, "dziugaite_sign_error"),
            "predicts": "yes" if r["predicts"] else ("" if r["kind"] == "baseline" else f"no: {r['why']}"),
        })
    return markdown_table(pd.DataFrame(rows))


def axes_table(summary: Mapping) -> str:
    """One row per measure and baseline, per axis the seeds-averaged ψ with its interval (the rule's), ψ over
    every network, and the axis's worst sign error; the last column the axes on which a measure's ψ is above
    every baseline's (when there are baselines)."""
    baselines = any(r["kind"] == "baseline" for r in summary["scores"])
    rows = []
    for r in summary["scores"]:
        row = {"measure": _label(r)}
        for axis in summary["axes"]:
            worst = r.get(f"sign_error_worst_{axis}")
            row[f"{axis.replace('_', ' ')}: ψ seeds averaged; every network; worst sign error"] = (
                f"{_with_interval(r, f'psi_seeds_averaged_{axis}')}; {_number(r.get(f'psi_{axis}'))}; "
                f"{'—' if worst is None or math.isnan(worst) else f'{worst:.2f}'}")
        if baselines:
            row["ψ above every baseline's on"] = "" if r["kind"] == "baseline" else (r.get("above_baselines_on") or "none")
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def axes_counts(summary: Mapping) -> str:
    """How much each axis's scores rest on: ψ's groups and the sign error's environments that kept a pair, at
    the rule's filter and at Dziugaite et al.'s."""
    first = summary["scores"][0]
    return "; ".join(f"{axis.replace('_', ' ')} {first.get(f'groups_{axis}', '—')} / {first.get(f'sign_environments_{axis}', '—')}"
                     f" / {first.get(f'dziugaite_sign_environments_{axis}', '—')}" for axis in summary["axes"])


def gap_effects_text(summary: Mapping) -> str:
    """How far each axis moves the gap itself (`gap_by_axis`): the scale its ψ and sign errors rest on."""
    effects = summary.get("gap_by_axis", {})
    parts = [f"{axis.replace('_', ' ')} {_number(e['mean'])} [{_number(e['low'])}, {_number(e['high'])}], at most "
             f"{e['largest']:.1f}, up in {e['rises']} and down in {e['falls']} of {e['groups']}" for axis, e in effects.items() if e["groups"]]
    return ("How far each axis moves the gap itself, in points (each configuration's seeds averaged; the gap at the axis's "
            "largest value minus at its smallest, mean [least, most] over the groups, the largest difference within "
            f"one group, and in how many groups it goes up and down): {'; '.join(parts)}. The sign error's filters are "
            f"{summary['margin_points']:.1f} points (δ = {summary['delta']:g}) and {summary['dziugaite_margin_points']:.1f} "
            "(Dziugaite et al.'s weight ½): worst-case bounds, far above one gap's binomial standard error.")


RULE = ("ψ with each configuration's seeds averaged above 0 on every axis, a worst-case sign error below ½, and that "
        "ψ's mean Ψ above every baseline's")


def verdict(summary: Mapping) -> str:
    """The study's answer in one sentence — which measures pass its rule, if any — and the axes its sign
    errors rest on."""
    passing = [r["name"] for r in summary["scores"] if r["predicts"]]
    if not summary["scores"]:
        return f"No scores: {summary.get('why_no_scores', 'nothing to score')}."
    first = summary["scores"][0]
    scored = [a.replace("_", " ") for a in summary["axes"] if first.get(f"sign_environments_{a}", 1)]
    unscored = [a.replace("_", " ") for a in summary["axes"] if not first.get(f"sign_environments_{a}", 1)]
    signs = (f" The sign errors rest on {', '.join(scored) or 'no axis'}" + (
        f"; along {', '.join(unscored)} no two configurations' gaps differ by more than the test set resolves" if unscored else "") + ".")
    if passing:
        return (f"By the study's rule ({RULE}), {', '.join(passing)} predict{'s' if len(passing) == 1 else ''} the "
                f"generalization gap here.{signs}")
    return f"By the study's rule ({RULE}), no measure predicts the generalization gap here; the table says where each fails.{signs}"


def _tau_with_interval(tau: Mapping | None) -> str:
    return "—" if tau is None else f"{_number(tau['tau'])} [{_number(tau['low'])}, {_number(tau['high'])}]"


def out_of_grid_text(summary: Mapping, predictors: Mapping) -> str:
    """The out-of-grid check: how do the measures that pass the rule on the grid (else the measure with the
    highest seeds-averaged Ψ) rank this run's own solutions — the ones the predictors stage ranks (SB, LB, remedies, sweep
    points, warm starts that fit the training set): its τ with the gap (`predictors`: its document), over all
    and within batch size? Descriptive."""
    taus = predictors["tau"]
    measures = [r for r in summary["scores"] if r["kind"] == "measure" and r["Psi_seeds_averaged"] is not None
                and not math.isnan(r["Psi_seeds_averaged"])]
    passing = [r["name"] for r in measures if r["predicts"]]
    names = passing or ([max(measures, key=lambda r: r["Psi_seeds_averaged"])["name"]] if measures else [])
    by_key = {(t["measure"], t["scope"]): t for t in taus if t["target"] == "gap"}
    ranked = [n for n in names if (n, "all") in by_key]
    if not ranked:
        return ("Out-of-grid check: none of the grid's measures is among those the predictors section ranks, so the "
                "remedies and warm starts say nothing about the grid's verdict here.")
    lead = ("the measures that pass the rule on the grid, and their" if passing else
            f"no measure passes the rule on the grid; the one with the highest Ψ (seeds averaged), {measure_name(ranked[0])}, and its")
    ranks = "; ".join(f"{measure_name(n)}: τ {_tau_with_interval(by_key.get((n, 'all')))} over all, "
                      f"{_tau_with_interval(by_key.get((n, 'within')))} within batch size" for n in ranked)
    return (f"Out-of-grid check, on this run's own solutions — the {predictors['included']} of {predictors['solutions']} "
            f"the predictors section ranks (SB, LB, remedies, sweep points and warm starts that fit the training set): "
            f"{lead} τ with the gap there — {ranks}. Descriptive only: those solutions were not designed as a "
            "study (runs share starts, the warm starts one SB run), and the grid's verdict rests on the design's few "
            f"values per axis ({summary['models']} networks here), so agreement or not neither confirms nor refutes it.")


def axes_section(summary: Mapping) -> str:
    """Per axis: the scores' counts and the table of ψ, seeds-averaged ψ and worst sign errors."""
    if not summary["scores"]:
        return ""
    return (f"Per axis — groups for ψ / environments (two configurations that differ in that axis alone) that kept a pair "
            f"for the sign error at the rule's filter / at Dziugaite et al.'s, over the first measure's networks: "
            f"{axes_counts(summary)}. {gap_effects_text(summary)} A baseline is scored in the direction its anchor "
            "gives, not one chosen on these data (*reversed*: a larger value predicts a smaller gap); the other way round "
            "its Ψ is −Ψ. The worst case's interval is a percentile of a maximum and often a single value: it describes the "
            f"resamples, it is not a confidence interval.\n\n{axes_table(summary)}")


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
score: τ over all models; ψ, τ within groups where only one axis changes, and its mean Ψ (also with each
configuration's seeds averaged, so that pairs of seeds do not count); the conditional mutual
information, minimum over conditioning on up to two axes; the sign error over environments — two configurations
that differ in one axis, their networks paired across — pairs within {summary['margin_points']:.1f} points of each other (test-set
noise at δ = {summary['delta']:g}, the rule's) dropped, and as a second reading within {summary['dziugaite_margin_points']:.1f} points
(Dziugaite et al.'s threshold alone — a pair's weight above ½, δ = {summary['dziugaite_delta']:.3f} — without their weighting of
the pairs kept or their minimum of 12 effective pairs per environment).
Intervals: {100 * summary['confidence']:g} % bootstrap, whole configurations resampled.

{scores_table(summary) if summary['scores'] else ''}

{axes_section(summary)}

{verdict(summary)}{(chr(10) * 2 + out_of_grid_text(summary, predictors)) if summary['scores'] and predictors else ''}

{NOT_SHOWN}

![study]({link('study')})"""


def _count(counts: list[int]) -> str:
    return f"{max(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"


def _configurations(scores: list) -> str:
    """How many configurations (points of the seeds-averaged Ψ) and networks the scores rest on: each measure is
    scored where it is defined."""
    configurations, networks = [r.get("configurations", r["models"]) for r in scores], [r["models"] for r in scores]
    where = "" if len(set(configurations)) == len(set(networks)) == 1 else "\n(each measure where defined)"
    return f"{_count(configurations)} configurations\n({_count(networks)} networks){where}"


def _bars(axis, scores: list, key: str, colours: list, xlim: tuple[float, float]) -> np.ndarray:
    """Horizontal bars of `key` per score with its interval (where the summary has one); returns the values."""
    y = np.arange(len(scores))
    value = np.array([np.nan if r.get(key) is None else r[key] for r in scores], dtype=float)
    axis.barh(y, np.nan_to_num(value), color=colours)
    if f"{key}_low" in scores[0]:
        low, high = (np.array([np.nan if r.get(k) is None else r[k] for r in scores], dtype=float) for k in (f"{key}_low", f"{key}_high"))
        axis.hlines(y, low, high, color="black", linewidth=1)  # the interval itself: a point estimate may lie outside it
    axis.set(yticks=y, yticklabels=[], xlim=xlim, ylim=(len(y) - 0.5, -0.5))
    return value


def study_figure(summary: Mapping) -> Figure:
    """Per measure and baseline (rows; baselines last): ψ with seeds averaged on each axis (a diverging heat
    map, grey where undefined; an axis's name grey where the sign error has no environment along it); its Ψ,
    the conditional mutual information score and the average sign error, each with its interval as a line (a
    point may lie outside it), the worst environment's sign error as a cross beside the last (and at Dziugaite
    et al.'s filter as a plus); the rule's threshold dotted."""
    scores = summary["scores"]
    figure, (heat, psi_bars, cmi_bars, sign_bars) = plt.subplots(
        1, 4, figsize=(18, 0.35 * max(len(scores), 4) + 2.2), gridspec_kw={"width_ratios": [max(len(summary["axes"]), 1), 2, 1.5, 1.5]})
    if not scores:
        for axis in (heat, psi_bars, cmi_bars, sign_bars):
            axis.axis("off")
        heat.text(0.5, 0.5, f"no scores: {summary.get('why_no_scores', '')}", ha="center", va="center", transform=heat.transAxes)
        return figure
    names = [measure_name(r["name"]) + (" (baseline" + (", reversed)" if r.get("orientation", 1) < 0 else ")") if r["kind"] == "baseline" else "")
             for r in scores]
    psi = np.array([[np.nan if r[f"psi_seeds_averaged_{a}"] is None else r[f"psi_seeds_averaged_{a}"] for a in summary["axes"]]
                    for r in scores], dtype=float)
    colours_of_psi = plt.get_cmap("RdBu").with_extremes(bad="lightgray")  # undefined (cannot order that axis), not ψ = 0's white
    image = heat.imshow(np.ma.masked_invalid(psi), cmap=colours_of_psi, vmin=-1, vmax=1, aspect="auto")
    heat.set(xticks=range(len(summary["axes"])), xticklabels=[a.replace("_", " ") for a in summary["axes"]], yticks=range(len(names)), yticklabels=names,
             title="ψ, seeds averaged:\nτ with the gap when one axis changes\n(axis grey: no sign-error environment at the rule's filter)")
    heat.tick_params(axis="x", rotation=30)
    first = scores[0]
    for label, axis_name in zip(heat.get_xticklabels(), summary["axes"]):  # no sign error along it at the rule's filter
        if first.get(f"sign_environments_{axis_name}", 1) == 0:
            label.set_color("gray")
    figure.colorbar(image, ax=heat, fraction=0.05)
    colours = ["tab:green" if r["predicts"] else ("tab:gray" if r["kind"] == "baseline" else "tab:orange") for r in scores]
    kinds = {"tab:green": "measure: predicts by the rule", "tab:orange": "measure: fails the rule", "tab:gray": "baseline"}
    legend = [Patch(color=colour, label=label) for colour, label in kinds.items() if colour in colours]  # the kinds drawn
    _bars(psi_bars, scores, "Psi_seeds_averaged", colours, (-1, 1))
    psi_bars.axvline(0, color="black", linewidth=0.8)
    confidence = summary.get("confidence")
    psi_bars.set(xlabel="Ψ" + (f", {100 * confidence:g} % interval\n(configurations resampled)" if confidence else " with its interval"),
                 title=f"Ψ, seeds averaged: over\n{_configurations(scores)}")
    _bars(cmi_bars, scores, "cmi", colours, (0, 1))
    cmi_bars.set(xlabel="Î, minimum over\nsets of ≤ 2 axes", title="conditional mutual\ninformation")
    _bars(sign_bars, scores, "sign_error_average", colours, (0, 1.05))
    worst = np.array([np.nan if r.get("sign_error_worst") is None else r["sign_error_worst"] for r in scores], dtype=float)
    sign_bars.scatter(worst, np.arange(len(scores)), marker="x", color="black", zorder=3, label="worst environment")
    if "dziugaite_sign_error_worst" in scores[0]:
        theirs = np.array([np.nan if r.get("dziugaite_sign_error_worst") is None else r["dziugaite_sign_error_worst"] for r in scores], dtype=float)
        sign_bars.scatter(theirs, np.arange(len(scores)), marker="+", s=60, color="tab:red", zorder=3,
                          label=f"worst at Dziugaite's ½ threshold ({summary['dziugaite_margin_points']:.1f} points)")
    sign_bars.axvline(0.5, color="gray", linestyle=":", linewidth=1)  # the rule: worst below ½
    sign_bars.set(xlabel=f"average (bar), worst environment (×)\nat δ = {summary['delta']:g} ({summary['margin_points']:.1f} points)",
                  title="sign error over\nenvironments")
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.legend(handles=legend, loc="lower right", ncol=3, fontsize="small", frameon=False)
    markers, labels = sign_bars.get_legend_handles_labels()  # the sign error's markers, below the figure, off its bars
    figure.legend(handles=markers, labels=labels, loc="lower center", ncol=2, fontsize="small", frameon=False)
    return figure
