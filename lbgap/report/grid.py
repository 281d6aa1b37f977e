"""The report's section on the learning-rate × batch-size grid: each theory's prediction as a number with its
interval (lbgap.experiments.grid_analysis), what the grid does not show, and one figure — test accuracy
against the temperature η/B^k, the training sharpness against its stability threshold where the runs ended,
and their ratio along training."""

from __future__ import annotations

import math
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from lbgap.report.tables import markdown_table

NOT_SHOWN = (
    "What this does not show: the grid is one network and data set; its runs stop at one training loss, and a "
    "run that needs more is cut at `grid.max_epochs` epochs — an epoch cap, so a large batch gets far fewer "
    "steps than a small one — and left out of the fits (see *reached*; diverged runs too), which can move a "
    "fit's peak; runs of one seed share x0 and sample order across cells, and the intervals resample runs, "
    "not seeds: they measure how well a fit holds across runs, not how it would vary with other seeds; Adam's preconditioner "
    "itself depends on the batch (its second moment holds gradient noise ∝ 1/B), so Adam's slope on log B is "
    "not the SGD noise effect, and a k for Adam is descriptive; at a cross-entropy of 0.01 the sharpness is "
    "still falling as margins grow, which pulls slopes toward 0; each fit is a model — a quadratic in the log "
    "temperature, a straight line in log sharpness — not a test of one."
)


def _interval(found: Mapping | None, value: str, low: str, high: str, digits: int = 2) -> str:
    if found is None:
        return "—"
    edge = " (k at the edge of its range)" if found.get("k_at_edge") else ""
    if found.get(low) is None:
        return f"{found[value]:.{digits}f} (no interval){edge}"
    return f"{found[value]:.{digits}f} [{found[low]:.{digits}f}, {found[high]:.{digits}f}]{edge}"


def predictions_table(summary: Mapping[str, Mapping]) -> str:
    """One row per prediction, one column per optimizer."""
    rows = {
        "runs that reached the target": lambda s: f"{s['reached']} of {s['runs']}",
        "temperature exponent k (η/B^k; 1 linear, ½ square-root rule)": lambda s: _interval(s.get("temperature"), "k", "k_low", "k_high"),
        "adjusted R² of accuracy: η/B^k alone / η / B / both": lambda s: "—" if s.get("temperature") is None else " / ".join(
            f"{s['temperature'][key]:.2f}" for key in ("r2_ratio", "r2_lr", "r2_batch", "r2_both")),
        "test accuracy per doubling of B at equal η/B^k (points)": lambda s: _interval(s.get("batch_effect"), "per_doubling", "low", "high"),
        "adjusted R² of accuracy, η/B^k and log B together (its own k)": lambda s: "—" if s.get("batch_effect") is None else (
            f"{s['batch_effect']['r2_adjusted']:.2f} (k {s['batch_effect']['k']:.2f})"),
        "temperature exponent k of log φ at the target; adjusted R² η/B^k alone / both": lambda s: "—" if s.get(
            "sharpness_temperature") is None else _interval(s["sharpness_temperature"], "k", "k_low", "k_high") + (
            f"; {s['sharpness_temperature']['r2_ratio']:.2f} / {s['sharpness_temperature']['r2_both']:.2f}"),
        "steps to target: slope of log₂ steps on log₂ B at the best η (−1 perfect scaling, 0 none)": lambda s: _interval(
            s.get("steps_scaling"), "slope", "slope_low", "slope_high"),
        "steps ratio per doubling of B (0.5 perfect scaling, 1 none)": lambda s: "—" if s.get("steps_scaling") is None else ", ".join(
            f"{p['from']}→{p['to']}: {p['ratio']:.2f}" + (f" [{p['low']:.2f}, {p['high']:.2f}]" if p.get("low") is not None else "")
            for p in s["steps_scaling"]["per_doubling"]),
        "critical batch size B_crit (steps to target; best η at the grid's edge for B =)": lambda s: _interval(
            s.get("critical_batch"), "critical_batch", "critical_batch_low", "critical_batch_high", 0) + (
            f"; {', '.join(map(str, s['critical_batch']['best_at_grid_edge']))}" if s.get("critical_batch")
            and s["critical_batch"]["best_at_grid_edge"] else ""),
        "B_crit / median noise scale B_simple at the target loss (McCandlish: about 1)": lambda s: (
            f"{s['critical_batch']['critical_batch'] / s['noise_scale_median']:.2f} (B_simple {s['noise_scale_median']:.0f})"
            if s.get("critical_batch") and s.get("noise_scale_median") else "—"),
        "noise scale B_simple at the target: median (quartiles; runs where it is undefined)": lambda s: (
            f"{s['noise_scale_median']:.0f} ({s['noise_scale_quartiles'][0]:.0f}–{s['noise_scale_quartiles'][1]:.0f}; "
            f"{s['noise_scale_undefined']})" if s.get("noise_scale_quartiles") else "—"),
        "slope of log training sharpness on log η (edge of stability: −1)": lambda s: _interval(
            s.get("sharpness_scaling"), "lr_slope", "lr_slope_low", "lr_slope_high"),
        "slope of log training sharpness on log B": lambda s: _interval(s.get("sharpness_scaling"), "batch_slope", "batch_slope_low",
                                                                        "batch_slope_high"),
        "sharpness / stability threshold by batch size: median (share above 1)": lambda s: ", ".join(
            f"{b}: {v['median_ratio']:.2f} ({100 * v['above_edge']:.0f} %)" for b, v in s["stability"].items()) or "—",
        "along training (first seed, runs that reached the target), sharpness / threshold by batch size: at x0 → peak "
        "after it, median (largest; runs above 1; records ≥ 0.8)": lambda s: ", ".join(
            f"{b}: {'—' if v['start_ratio_median'] is None else format(v['start_ratio_median'], '.2f')} → {v['peak_ratio_median']:.2f} "
            f"({v['peak_ratio_max']:.2f}; {100 * v['above_edge']:.0f} %; {100 * v['near_edge']:.0f} %)"
            for b, v in s.get("edge_along_training", {}).items()) or "—",
        "runs that missed the target, by batch size; diverged": lambda s: ", ".join(
            f"{b}: {n}" for b, n in s.get("unreached_by_batch", {}).items()) + f"; {s.get('diverged', 0)}",
    }
    return markdown_table(pd.DataFrame([{"prediction": name, **{o: cell(s) for o, s in summary.items()}} for name, cell in rows.items()]))


def why_not(summary: Mapping[str, Mapping]) -> str:
    """The predictions a grid was too small for, and why."""
    notes = [f"{optimizer} {key.removesuffix('_why_not').replace('_', ' ')}: {reason}" for optimizer, found in summary.items()
             for key, reason in found.items() if key.endswith("_why_not")]
    return "Not fitted: " + "; ".join(notes) + "." if notes else ""


def grid_section_text(table: pd.DataFrame, summary: Mapping[str, Mapping], grid: Mapping, target_loss: float, confidence: float,
                      link) -> str:
    rates = "; ".join(f"{o}: {', '.join(f'{lr:g}' for lr in grid['learning_rates'][o])}" for o in grid["optimizers"])
    along = (f"`plots/grid_edge.csv`: the first seed's runs' stability ratio at the start, every {grid['edge_every']} epochs and "
             "where they ended, the figure's bottom row" if grid.get("edge_every") else "the ratio along training not recorded: "
             "`grid.edge_every` is 0")
    return f"""## Why large batches find sharp minima: learning rate × batch size

Every run of the grid — optimizers {', '.join(grid['optimizers'])}, batch sizes {', '.join(map(str, grid['batches']))},
learning rates ({rates}), {grid['seeds']} seed(s) each — trained until its training loss first reached {target_loss:g}
(at most {grid['max_epochs']} epochs) and was measured there (`plots/grid.csv`: one row per run; in the figure, hollow points
missed the target; {along}). Each prediction
with its {100 * confidence:g} % bootstrap interval (docs/theory.md says what each tests):

{predictions_table(summary)}

{why_not(summary)}

{NOT_SHOWN}

![grid]({link('grid')})"""


def grid_figure(table: pd.DataFrame, summary: Mapping[str, Mapping], trace: pd.DataFrame) -> Figure:
    """Per optimizer (columns): test accuracy against log10 η/B^k at the fitted k (k = 1 when not fitted);
    the training sharpness against the stability threshold where the runs ended, both log, with the line
    sharpness = threshold; and from `trace` (`edge_table`) the traced runs' stability ratio along training, one
    line per run. Batch sizes by colour (viridis: blue and red mean SB and LB elsewhere), runs that missed
    the target hollow."""
    optimizers = list(summary)
    figure, axes = plt.subplots(3, len(optimizers), figsize=(5.2 * len(optimizers), 12.0), squeeze=False)
    batches = sorted(table.batch_size.unique())
    colours = dict(zip(batches, plt.cm.viridis(np.linspace(0, 0.9, len(batches)))))
    for column, optimizer in enumerate(optimizers):
        runs = table[(table.optimizer == optimizer) & ~table.diverged.astype(bool)]
        fitted = summary[optimizer].get("temperature")
        k = fitted["k"] if fitted else 1.0
        accuracy_axis, sharpness_axis = axes[0][column], axes[1][column]
        for batch in batches:
            group = runs[runs.batch_size == batch]
            reached = group.reached.astype(bool)
            temperature = np.log10(group.learning_rate / group.batch_size ** k)
            for mask, hollow in ((reached, False), (~reached, True)):
                accuracy_axis.scatter(temperature[mask], group.test_accuracy[mask], facecolors="none" if hollow else colours[batch],
                                      edgecolors=colours[batch], label=None if hollow else f"batch {batch}")
            if "training_sharpness" in group:
                edge = group.training_sharpness / group.stability_ratio  # the threshold each run is held to
                shown = reached & (group.training_sharpness > 0) & (edge > 0)  # a log axis: positive values only
                if shown.any():
                    sharpness_axis.scatter(edge[shown], group.training_sharpness[shown], color=colours[batch], label=f"batch {batch}")
        accuracy_axis.set(xlabel=f"log10 η / B^k, k = {k:.2f}" + ("" if fitted else " (not fitted)"), ylabel="test accuracy (%)",
                          title=f"{optimizer}: accuracy against the temperature")
        preconditioned = "preconditioned " if optimizer == "adam" else ""  # Adam's is λ_max of P^-½ H P^-½ (lbgap.measures.preconditioned)
        sharpness_axis.set(xlabel="stability threshold (log scale)", ylabel=f"{preconditioned}training sharpness (log scale)",
                           title=f"{optimizer}: sharpness against its edge\n(runs that reached the target)")
        if sharpness_axis.collections:
            sharpness_axis.set(xscale="log", yscale="log")
            for axis in (sharpness_axis.xaxis, sharpness_axis.yaxis):  # minor labels collide within a decade
                axis.set_minor_formatter(NullFormatter())
            low, high = sharpness_axis.get_xlim()
            if math.isfinite(low) and math.isfinite(high) and low > 0:
                sharpness_axis.plot([low, high], [low, high], ":", color="gray", label="at the edge")
            sharpness_axis.legend(fontsize="small")
        else:
            sharpness_axis.text(0.5, 0.5, "no run reached the target\nwith a positive sharpness", ha="center", va="center",
                                transform=sharpness_axis.transAxes)
        _edge_panel(axes[2][column], trace[trace.optimizer == optimizer], colours, optimizer)
        if accuracy_axis.collections:
            if (~runs.reached.astype(bool)).any():  # explain the hollow markers once, in grey
                accuracy_axis.scatter([], [], facecolors="none", edgecolors="0.4", label="hollow: missed the target loss")
            accuracy_axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _edge_panel(axis, trace: pd.DataFrame, colours: Mapping, optimizer: str) -> None:
    """The traced runs' stability ratio (training sharpness over its threshold) against the epoch, the end
    included, log y, one line per run (a gap where a ratio is undefined or not positive), batch sizes by
    colour; runs that missed the target dashed; the dotted line at 1 is the edge."""
    drawn, missed = set(), False
    for (batch, _, _), run in trace.groupby(["batch_size", "learning_rate", "seed"]):
        run = run.sort_values(["end", "epoch"])
        ratio = run.stability_ratio.where(run.stability_ratio > 0)  # NaN breaks the line: a log axis shows positives only
        if ratio.notna().any():
            reached = bool(run.reached.iloc[0])
            axis.plot(run.epoch, ratio, marker=".", color=colours.get(batch, "gray"), alpha=0.8, linestyle="-" if reached else "--")
            drawn.add(batch)
            missed |= not reached
    axis.set(xlabel="epoch", ylabel="sharpness / stability threshold (log scale)", title=f"{optimizer}: along training (first seed)")
    if not drawn:
        axis.text(0.5, 0.5, "no ratio recorded along training\n(grid.edge_every 0, or cells written without records)",
                  ha="center", va="center", transform=axis.transAxes)
        return
    axis.set_yscale("log")
    axis.yaxis.set_minor_formatter(NullFormatter())
    low, high = axis.get_ylim()
    axis.set_ylim(low, max(high, 1.0) * 100)  # room above the edge for the legend, off the lines
    axis.axhline(1.0, linestyle=":", color="gray", label="at the edge")
    for batch in sorted(drawn):
        axis.plot([], [], color=colours.get(batch, "gray"), label=f"batch {batch}")
    if missed:
        axis.plot([], [], color="gray", linestyle="--", label="dashed: missed the target")
    axis.legend(fontsize="small", loc="upper center", ncol=2)
