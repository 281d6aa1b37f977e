"""The report: headline numbers, figures and the markdown text of one run, built from its RunResults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import yaml
from matplotlib.figure import Figure

from lbgap.report.curvature_figures import density_figure, epsilon_figure
from lbgap.report.curvature_tables import measures_table, rescaling_table
from lbgap.report.figures import mitigation_figure, sharpness_figure, sweep_figure, training_curves_figure, trajectory_figure
from lbgap.report.numbers import distance_ratio, headline, null_if_undefined, remedy_numbers, sweep_numbers, warm_start_numbers
from lbgap.report.paper import DATA_OF, comparison_table, paper_row, paper_quantities
from lbgap.report.run import RunResults
from lbgap.report.tables import (
    accuracy_table,
    mitigation_rows,
    mitigation_table,
    pm,
    pm_significant,
    points_table,
    run_table,
    sharpness_table,
    sweep_table,
)

BN_NOTE = {  # how BN statistics were set where training did not produce the weights (lbgap.train.batchnorm)
    "recompute": (
        "BatchNorm running statistics at every point of the parametric plots, the curvilinear path, the 2-D "
        "surfaces, the x0–SB–LB plane and at the iterates along training were **recomputed** for that "
        "point's weights (one no-grad train-mode pass over the training data — for the surfaces, over the "
        "training subset they are evaluated on; `bn_statistics: recompute`)."
    ),
    "interpolate": (
        "BatchNorm running statistics at the points of the parametric plots, the curvilinear path, the 2-D "
        "surfaces and the x0–SB–LB plane were **interpolated** with the weights (variances clamped at 0), "
        "and the iterates along training kept their own (`bn_statistics: interpolate`): outside [0, 1] the "
        "losses reflect the clamping, not the landscape."
    ),
}
# every figure the report links: its own (run_figures) and those other stages draw
FIGURES = ("mitigation", "sweep", "trajectory", "hessian_density", "epsilon_sensitivity", "training_curves", "sharpness",
           "interpolation", "curvilinear", "warm_start", "surface")
TRAJECTORY_COLUMNS = {
    "epoch": ("epoch", 1, 0), "train loss": ("train_loss", 1, 4), "test accuracy (%)": ("test_accuracy", 100, 2),
    "φ": ("sharpness", 1, 2), "noise scale B_simple": ("noise_scale", 1, 0),
}
WARM_START_COLUMNS = {
    "SB epochs": ("sb_epochs", 1, 0), "SB test accuracy (%)": ("sb_test_accuracy", 100, 2),
    "LB test accuracy (%)": ("lb_test_accuracy", 100, 2), "LB train loss": ("lb_train_loss", 1, 4),
    "φ of the LB solution": ("lb_sharpness", 1, 2),
}


@dataclass
class Report:
    summary: dict  # metrics/summary.json (strict JSON: NaN → null)
    markdown: str
    figures: dict[str, Figure]  # name → figure, saved as <name>.png in the figures folder
    sweep: pd.DataFrame  # one row per batch size


def summary_numbers(run: RunResults) -> dict:
    """The headline numbers, in the order `dvc exp show` lists them (NaN kept; see Report.summary)."""
    numbers = headline(run.train, run.sharpness)
    ratio = distance_ratio(run.train)
    numbers["distance_ratio"] = {"mean": ratio["mean"], "std": ratio["std"]}
    numbers["mitigation"] = remedy_numbers(run.remedies)
    numbers["sweep"] = sweep_numbers(run.threshold)
    numbers["warm_start"] = warm_start_numbers(pd.DataFrame(run.warm_start["points"]))
    numbers["trajectory"] = {r: {"final_sharpness": float(t.sharpness.iloc[-1])} for r, t in run.trajectories.items()}
    numbers["curvature"] = {key: value["lb_over_sb"] for key, value in curvature_measures(run)[1].items()}
    return numbers


def curvature_measures(run: RunResults) -> tuple[str, dict]:
    """The curvature table (markdown) and per measure its SB and LB values and whether it agrees with φ."""
    return measures_table(
        {r: run.curvature[r]["summary"] for r in ("sb", "lb")},
        {r: run.sharpness[r]["summary"]["full"][run.first_eps_key]["phi"] for r in ("sb", "lb")},
    )


def run_figures(run: RunResults) -> dict[str, Figure]:
    batch_sizes, rows = run.batch_sizes, mitigation_rows(run.train, run.sharpness, run.remedies)
    first = run.first_eps_key
    bars = [{"name": r["name"], "test_accuracy": r["train"]["test_accuracy"], "phi": r["sharpness"]["full"][first]["phi"]} for r in rows]
    return {
        "sweep": sweep_figure(run.sweep_points, run.threshold.crossing, run.sweep_settings.epochs),
        "trajectory": trajectory_figure(run.trajectories, batch_sizes),
        "hessian_density": density_figure(run.spectra, batch_sizes),
        "epsilon_sensitivity": epsilon_figure(run.epsilon_frames, batch_sizes),
        "training_curves": training_curves_figure(run.curves, batch_sizes),
        "sharpness": sharpness_figure({r: run.sharpness[r]["summary"] for r in ("sb", "lb")}, batch_sizes),
        "mitigation": mitigation_figure(bars),
    }


def threshold_text(run: RunResults) -> str:
    t = run.threshold
    if t.batch_size is None:
        return f"No threshold in the swept range: no batch size tested more than {t.drop:g} points below the best smaller one."
    return (
        f"Threshold batch size: **{t.batch_size}** (test accuracy {t.accuracy:.2f} %, more than {t.drop:g} points below "
        f"{t.reference_accuracy:.2f} % at batch {t.reference_batch}); interpolated crossing ≈ {t.crossing:.0f}."
    )


def build_report(run: RunResults, link: Callable[[str], str]) -> Report:
    """`link(name)`: the path, relative to the report, of figure `name` (every name in FIGURES)."""
    return Report(null_if_undefined(summary_numbers(run)), render(run, link), run_figures(run), run.sweep_points)


def render(run: RunResults, link: Callable[[str], str]) -> str:
    """The markdown report of `run`."""
    train, sharp, label, batch_sizes = run.train, run.sharpness, run.label, run.batch_sizes
    numbers, ratio = headline(train, sharp), distance_ratio(train)
    net, same = paper_row(str(run.params["runtime"]["model"]), str(run.params["data"]["name"]))
    sweep, remedies, warm, rescaled = run.sweep_settings, run.remedies, run.warm_start, run.rescaling
    table, measures = curvature_measures(run)
    # the paper's φ is the reference the others are compared with, not a measure that agrees with itself
    agreeing = [k for k, v in measures.items() if v["agrees"] and k != "paper_phi"]
    disagreeing = [k for k, v in measures.items() if v["agrees"] is False]
    noise = {r: run.curvature[r]["summary"]["noise_scale"] for r in ("sb", "lb")}
    threshold, bn_note = run.threshold, BN_NOTE[run.bn_statistics]
    seeds = len(train["sb"]["per_seed"])
    return f"""# Large-batch generalization gap: {label}

SB batch {batch_sizes['sb']}, LB batch {batch_sizes['lb']}, {seeds} seed(s); {sharp['sb']['parameters']:,} parameters.
Values are mean ± sample std over seeds. Written by `dvc repro` (stage `report`) from this run's outputs.

## Accuracy (%) — cf. the paper's Table 2

{accuracy_table(label, train)}

Test-accuracy gap SB − LB: **{numbers['test_acc_pct']['gap']:.2f} points**.

## Sharpness φ, full space (A = I) — cf. Table 3

{sharpness_table(label, sharp, 'full')}

## Sharpness φ, random {sharp['sb']['subspace_dim']}-dimensional subspace — cf. Table 4

{sharpness_table(label, sharp, 'subspace')}

LB/SB ratio of mean φ: {', '.join(f"{space} {key.replace('eps_', 'ε=')}: {v['lb_over_sb']:.1f}×" for space, by_eps in numbers['sharpness'].items() for key, v in by_eps.items() if v['lb_over_sb'] is not None)}.

## Runs

{run_table(train, sharp)}

Distance from the start, ‖x_SB − x0‖ / ‖x_LB − x0‖ (SB and LB of a seed share x0; paper: 3–10):
**{pm(ratio)}** ({', '.join(f"seed {r['seed']}: {r['ratio']:.2f}" for r in ratio['per_seed'])}).

## Beside the paper

{"This run is the paper's configuration " + net + " (" + DATA_OF[net] + "): its published numbers, ours and the difference."
 if same else "This run is not one of the paper's configurations; the paper's F1 (MNIST) row is shown as a reference only — φ and accuracies are not comparable across networks and data sets."}

{comparison_table(net, same, paper_quantities(train, sharp))}

## Remedies for the large-batch gap — cf. the paper's appendix

LB training with each remedy ({len(remedies[0]['train']['per_seed']) if remedies else 0} seed(s) each); plain SB and LB for reference.

{mitigation_table(mitigation_rows(train, sharp, remedies))}

![remedies]({link('mitigation')})

## Accuracy and sharpness vs batch size

Every batch size trained for {sweep.epochs} epochs ({sweep.seeds} seed(s)); φ in the full space at
ε = {sweep.probe.epsilon:g}. Rule (lbgap/experiments/sweep.py): the threshold is the smallest batch size whose mean test
accuracy is more than `sweep.drop` = {threshold.drop:g} points below the best smaller batch size.

{sweep_table(run.sweep_points)}

{threshold_text(run)}

![accuracy and sharpness vs batch size]({link('sweep')})

## Warm-started large-batch training

SB (batch {warm['small_batch']}) iterates of seed {warm['seed']}, each followed by {warm['lb_epochs']} LB epochs (batch {warm['large_batch']}).

{points_table(pd.DataFrame(warm['points']), WARM_START_COLUMNS)}

![warm start]({link('warm_start')})

## Sharpness along training

Seed {run.params['trajectory']['seed']}; φ in the full space of the iterate after each listed epoch, and its gradient noise scale
(beyond the paper; see the curvature section; nan where the |G|² or the tr Σ estimate was not
positive — the full-batch gradient was below the estimator's noise).

SB (batch {batch_sizes['sb']}):

{points_table(run.trajectories['sb'], TRAJECTORY_COLUMNS)}

LB (batch {batch_sizes['lb']}):

{points_table(run.trajectories['lb'], TRAJECTORY_COLUMNS)}

![sharpness along training]({link('trajectory')})

## Beyond the paper: curvature and flatness

Every measure at each seed's SB and LB solution, on a seeded subset of {run.curvature['sb']['samples']} training
samples (mean ± std over seeds; φ rows there use the same subset). "LB sharper?" says whether the
measure calls LB the sharper solution, as the paper's φ does (for σ, larger means flatter).
{len(agreeing)} of {len(agreeing) + len(disagreeing)} measures agree with the paper's φ{'' if not disagreeing else '; not: ' + ', '.join(disagreeing)}.

{table}

Gradient noise scale B_simple: SB {pm_significant(noise['sb'])}, LB {pm_significant(noise['lb'])} samples
(McCandlish et al.: batches much larger than B_simple stop saving steps), beside the sweep's threshold
batch size: {'none in range' if threshold.batch_size is None else threshold.batch_size}.

![Hessian eigenvalue density]({link('hessian_density')})

![φ against ε]({link('epsilon_sensitivity')})

### Function-preserving rescaling (Dinh et al. 2017)

BatchNorm γ and β of block {rescaled['block']} multiplied by {rescaled['factor']:g} and the next layer's weight divided by
it, at seed {rescaled['seed']}'s solutions. Predictions unchanged: largest logit change {rescaled['sb']['max_relative_logit_change']:.1e} (SB),
{rescaled['lb']['max_relative_logit_change']:.1e} (LB) of the largest logit; loss {rescaled['lb']['loss_before']:.6f} → {rescaled['lb']['loss_after']:.6f} (LB).

{rescaling_table(rescaled)}

### 2-D loss surfaces (filter-normalized, Li et al. 2018)

{bn_note}

![2-D loss surfaces]({link('surface')})

## Parameters of this run

```yaml
{yaml.safe_dump(run.used_params(), sort_keys=False, default_flow_style=None).strip()}
```

## Figures

{bn_note}

![training curves]({link('training_curves')})

![sharpness]({link('sharpness')})

![parametric plot between SB and LB]({link('interpolation')})

![curvilinear path between SB and LB]({link('curvilinear')})
"""
