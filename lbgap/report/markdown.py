"""The report: headline numbers, figures and the markdown text of one run, built from its RunResults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import pandas as pd
from matplotlib.figure import Figure

from lbgap.report.curvature_figures import density_figure, epsilon_figure
from lbgap.report.curvature_tables import measures_table, rescaling_table
from lbgap.report.grid import grid_figure, grid_section_text
from lbgap.report.study import study_figure, study_section_text
from lbgap.report.figures import mitigation_figure, sharpness_figure, sweep_figure, training_curves_figure, trajectory_figure
from lbgap.report.numbers import (
    distance_ratio, headline, headline_metrics, null_if_undefined, remedy_numbers, sweep_numbers, warm_start_numbers,
)
from lbgap.report.predictors import measure_name, tau_figure, tau_plot_data, tau_table
from lbgap.report.remedies import gap_closed_figures, gap_closed_table, scaling_rules_text, tuning_table
from lbgap.report.run import RunResults
from lbgap.report.sections import beside_paper, distance_text, paper_tables, parameters, run_header
from lbgap.report.target import target_numbers, target_section
from lbgap.report.tables import (
    sweep_seeds_frame,
    certificate_frame,
    flagged_measurements,
    maximizer_section,
    mitigation_rows,
    mitigation_table,
    pm_significant,
    points_table,
    run_table,
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
FIGURES = ("mitigation", "gap_closed", "updates", "predictors", "sweep", "trajectory", "hessian_density", "epsilon_sensitivity", "training_curves", "sharpness",
           "grid", "study", "interpolation", "curvilinear", "warm_start", "surface")
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
    headline: dict  # metrics/headline.json: the few numbers DVC lists as metrics (strict JSON)
    markdown: str
    figures: dict[str, Figure]  # name → figure, saved as <name>.png in the figures folder
    sweep: pd.DataFrame  # one row per batch size
    remedies: pd.DataFrame  # the gap-closed table: plain SB, plain LB, every remedy
    predictors_tau: pd.DataFrame  # τ of every measure with the gap (plots/predictors_tau.csv)


def unlevelled_probes(run: RunResults) -> list[str]:
    """The full-space φ of the sweep, warm start, trajectory and curvature stages whose search had not
    levelled off (their one certificate: they measure no subspace), as short labels."""
    out = [f"sweep batch {doc['batch_size']} seed {row['seed']}" for doc in run.sweep for row in doc["per_seed"]
           if row.get("sharpness_levelled_off") is False]
    out += [f"warm start from SB epoch {p['sb_epochs']}" for p in run.warm_start["points"] if p.get("lb_sharpness_levelled_off") is False]
    for regime, frame in run.trajectories.items():
        if "sharpness_levelled_off" in frame:
            out += [f"trajectory {regime.upper()} epoch {e}" for e in frame.epoch[~frame.sharpness_levelled_off.astype(bool)]]
    for regime, document in run.curvature.items():
        out += [f"curvature {regime.upper()} {key.removeprefix('levelled_off_')} seed {row['seed']}"
                for row in document["per_seed"] for key, value in row.items() if key.startswith("levelled_off_") and value == 0]
    return out


def probes_note(run: RunResults) -> str:
    unlevelled = unlevelled_probes(run)
    if not unlevelled:
        return ("The one-number φ of the sweep, warm start, trajectory and curvature stages (full space, no subspace to "
                "bound them) all levelled off.")
    return f"**Flagged: φ whose search had not levelled off** (full space, no subspace bound): {'; '.join(unlevelled)}."


def summary_numbers(run: RunResults) -> dict:
    """The headline numbers, in the order `dvc exp show` lists them (NaN kept; see Report.summary)."""
    numbers = headline(run.train, run.sharpness)
    numbers["sharpness_flagged"] = flagged_measurements(certificate_frame(run.sharpness))
    numbers["sharpness_probes_not_levelled_off"] = unlevelled_probes(run)
    ratio = distance_ratio(run.train)
    numbers["distance_ratio"] = {"mean": ratio["mean"], "std": ratio["std"]}
    numbers["mitigation"] = remedy_numbers(run.remedies)
    for row in run.gap_closed.iloc[2:].itertuples():
        numbers["mitigation"][row.training].update(
            gap_closed_pct=row.gap_closed, gap_closed_low=row.gap_closed_low, gap_closed_high=row.gap_closed_high,
            helps=bool(row.helps) if row.helps in (True, False) else None, hurts=bool(row.hurts) if row.hurts in (True, False) else None)
    numbers["predictors"] = {
        r.measure: {"tau_gap_all": r.tau_all, "tau_gap_within": r.tau_within} for r in run.taus.itertuples()
    }
    numbers["sweep"] = sweep_numbers(run.threshold)
    numbers["warm_start"] = warm_start_numbers(pd.DataFrame(run.warm_start["points"]))
    numbers["trajectory"] = {r: {"final_sharpness": float(t.sharpness.iloc[-1])} for r, t in run.trajectories.items()}
    numbers["grid"] = run.grid  # every prediction with its interval, per optimizer
    numbers["study"] = {r["name"]: {"Psi": r["Psi"], "predicts": r["predicts"]} for r in run.study["scores"]}
    numbers["curvature"] = {key: value["lb_over_sb"] for key, value in curvature_measures(run)[1].items()}
    numbers["at_target_loss"] = target_numbers(run)
    return numbers


def curvature_measures(run: RunResults) -> tuple[str, dict]:
    """The curvature table (markdown) and per measure its SB and LB values and whether it agrees with φ."""
    return measures_table(
        {r: run.curvature[r]["summary"] for r in ("sb", "lb")},
        {r: run.sharpness[r]["summary"]["full"][run.first_eps_key]["phi"] for r in ("sb", "lb")},
    )


def method_rows(run: RunResults) -> list[dict]:
    """mitigation_figure's rows: plain Adam (train@sb, train@lb), then each remedy (its LB runs and its own
    SB control, if any), each side's per-seed test accuracy (fraction) and full-space φ at the first ε."""
    first = run.first_eps_key

    def side(train: Mapping, sharpness: Mapping) -> dict:
        return {"test_accuracy": [row["test_accuracy"] for row in train["per_seed"]],
                "phi": [row["phi"] for row in sharpness["per_seed"]["full"][first]]}

    rows = [{"name": "plain Adam", **{r: side(run.train[r], run.sharpness[r]) for r in ("sb", "lb")}}]
    for doc in run.remedies:
        own = doc.get("small_batch")
        rows.append({"name": doc["strategy"], "lb": side(doc["train"], doc["sharpness"]),
                     "sb": side(own["train"], own["sharpness"]) if own else None})
    return rows


def run_figures(run: RunResults) -> dict[str, Figure]:
    batch_sizes = run.batch_sizes
    return {
        "sweep": sweep_figure(run.sweep_points, sweep_seeds_frame(run.sweep), run.threshold.crossing, run.params["sweep"]["epochs"]),
        "trajectory": trajectory_figure(run.trajectories, batch_sizes, run.params["trajectory"]["seed"]),
        "hessian_density": density_figure(run.spectra, batch_sizes),
        "epsilon_sensitivity": epsilon_figure(run.epsilon_frames, batch_sizes, run.params["seeds"]),
        "training_curves": training_curves_figure(run.curves, batch_sizes),
        "sharpness": sharpness_figure({r: run.sharpness[r]["per_seed"] for r in ("sb", "lb")}, batch_sizes),
        "mitigation": mitigation_figure(method_rows(run)),
        **gap_closed_figures(run.gap_closed),
        "predictors": tau_figure(run.taus, run.predictors["confidence"]),
        "grid": grid_figure(run.grid_table, run.grid, run.grid_edge),
        "study": study_figure(run.study),
    }


def remedies_text(frame: pd.DataFrame) -> str:
    """Which remedies closed at least half of the gap, which none; diverged runs; the remedies compared at both
    batch sizes by their own gap. Only when the plain gap exceeds twice the seeds' combined spread."""
    sb, lb = frame.iloc[0], frame.iloc[1]
    spread = math.hypot(*(0.0 if math.isnan(v) else v for v in (sb.test_accuracy_std, lb.test_accuracy_std)))
    gap = sb.test_accuracy - lb.test_accuracy
    if not gap > 2 * spread:
        return (f"The plain SB − LB gap ({gap:.2f} points) is not larger than twice the seeds' spread ({spread:.2f}): "
                "no remedy can be said to close it.")
    remedies = frame.iloc[2:]
    ok = remedies[~remedies.diverged]

    def named(rows) -> str:
        return ", ".join(f"{r.training} ({r.gap_closed:.0f} %, interval [{r.gap_closed_low:.0f}, {r.gap_closed_high:.0f}])"
                         for r in rows.itertuples()) or "none"

    hurts = ok[ok.hurts == True]  # noqa: E712 (columns of True, False and None)
    text = (f"A remedy helps when the 95 % interval of its gap closed (paired by seed with plain LB) lies above 0 "
            f"(each remedy tested on its own: among many remedies, about one in twenty crosses by chance). "
            f"Helps: {named(ok[ok.helps == True])}. "  # noqa: E712
            f"Not shown to help: {named(ok[(ok.helps == False) & ~ok.index.isin(hurts.index)])}."  # noqa: E712
            + (f" Hurts (interval below 0): {named(hurts)}." if len(hurts) else ""))
    if (undecided := ok[ok.helps.isna()]).size:
        text += f" One seed, no interval: {', '.join(undecided.training)}."
    if remedies.diverged.any():
        text += f" Diverged (non-finite training loss; stopped there): {', '.join(remedies.training[remedies.diverged])}."
    if "own_gap" in remedies:
        both = remedies[remedies.own_gap.notna()]
        if len(both):
            text += (" Compared at both batch sizes with their own SB run (plain Adam's gap: " f"{gap:.2f} points): "
                     + ", ".join(f"{r.training} {r.own_gap:.2f}" for r in both.itertuples()) + ".")
    if (epochs := frame.attrs.get("equal_epochs")) is not None:
        text += f" The column after {epochs} epochs compares every run at the epochs all of them trained."
    return text


def remedies_section_text(run: RunResults) -> str:
    """remedies_text, and which learning-rate scaling rule fits when both ran."""
    frame = run.gap_closed
    rules = scaling_rules_text(run.remedies, frame.iloc[0].test_accuracy - frame.iloc[1].test_accuracy)
    return remedies_text(frame) + (f"\n\n{rules}" if rules else "")


def predictors_text(taus: pd.DataFrame) -> str:
    """The measures by verdict (the control, the train loss, apart)."""
    verdicts = ("predicts", "separates batch sizes only", "inverse", "separates batch sizes only, inversely", "not tested within batch", "no")
    measures = taus[taus.measure != "train_loss"]
    groups = {v: [measure_name(m) for m in measures.measure[measures.verdict == v]] for v in verdicts}
    control = taus[taus.measure == "train_loss"]
    text = (
        f"Survive with batch size held fixed (interval above 0 within batch): {', '.join(groups['predicts']) or 'none'}. "
        f"Only separate batch sizes (interval above 0 over all solutions, not within): {', '.join(groups['separates batch sizes only']) or 'none'}. "
        f"Rank inversely within batch: {', '.join(groups['inverse']) or 'none'}; over all solutions only: "
        f"{', '.join(groups['separates batch sizes only, inversely']) or 'none'}. No reliable ranking: {', '.join(groups['no']) or 'none'}."
    )
    if groups["not tested within batch"]:
        text += f" Not tested within batch (no group of ≥ 3): {', '.join(groups['not tested within batch'])}."
    if len(control):
        row = control.iloc[0]
        text += (f" The control — the final train loss, i.e. how far training went — has τ {row.tau_all:+.2f} over all and "
                 f"{row.tau_within:+.2f} within batch: a measure is informative beyond it only where it does better.")
    return text


def left_out_text(predictors: dict) -> str:
    """Which solutions did not fit the training set, and so are not ranked."""
    left = predictors["left_out"]
    head = (f"{predictors['included']} of {predictors['solutions']} solutions reach {100 * predictors['min_train_accuracy']:g} % train "
            "accuracy and are ranked (`predictors.min_train_accuracy`)")
    return head + (f"; left out: {', '.join(left)}." if left else ".")


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
    numbers = summary_numbers(run)
    return Report(
        null_if_undefined(numbers), null_if_undefined(headline_metrics(numbers)), render(run, link, numbers), run_figures(run), run.sweep_points, run.gap_closed,
        tau_plot_data(run.taus),
    )


def workers_note(params: dict, batch_sizes: dict) -> str:
    """A sentence on data-parallel training when train@sb/lb ran over several workers, else ''."""
    workers = int(params["runtime"].get("workers", 1))
    if workers == 1:
        return ""
    if params["runtime"].get("sync_batchnorm"):
        return f"\nSB and LB trained data-parallel over {workers} workers with synchronized BatchNorm (statistics over the whole batch)."
    return (f"\nSB and LB trained data-parallel over {workers} workers: BatchNorm normalized each worker's share, i.e. "
            f"ghost BN with virtual batches of {batch_sizes['sb'] // workers} (SB) and {batch_sizes['lb'] // workers} (LB); "
            "the running statistics used at evaluation follow worker 0's share.")


# Each section of the report: (run, link to a figure, the headline numbers) → its markdown, heading included.
Section = Callable[[RunResults, Callable[[str], str], dict], str]


def header(run: RunResults, link, numbers: dict) -> str:
    return (run_header("Large-batch generalization gap", run.params, run.train, run.sharpness["sb"]["parameters"],
                       workers_note(run.params, run.batch_sizes))
            + " Written by `dvc repro` (stage `report`) from this run's outputs.")


def tables(run: RunResults, link, numbers: dict) -> str:
    return paper_tables(run.params, run.train, run.sharpness, numbers)


def maximizer(run: RunResults, link, numbers: dict) -> str:
    return f"{maximizer_section(run.sharpness)}\n\n{probes_note(run)}"


def runs(run: RunResults, link, numbers: dict) -> str:
    return f"""## Runs

{run_table(run.train, run.sharpness)}

{distance_text(run.train)}"""


def at_target(run: RunResults, link, numbers: dict) -> str:
    return target_section(run)


def paper(run: RunResults, link, numbers: dict) -> str:
    return beside_paper(run.params, run.train, run.sharpness)


def remedies(run: RunResults, link, numbers: dict) -> str:
    seeds = len(run.remedies[0]["train"]["per_seed"]) if run.remedies else 0
    return f"""## Remedies for the large-batch gap — cf. the paper's appendix

LB training with each remedy ({seeds} seed(s) each); plain SB and LB for reference.

{mitigation_table(mitigation_rows(run.train, run.sharpness, run.remedies))}

![remedies]({link('mitigation')})

## What closes the gap? Remedies beyond the paper

Every remedy's LB runs beside plain SB and LB (Adam, as in the paper), each remedy with the options chosen
on the validation split (held out of the training set; the test split is read only for the table below):

{tuning_table(run.tuning)}

Gap closed = (accuracy − LB) / (SB − LB): 0 % is no better than plain LB, 100 % as good as plain SB; its
interval is the paired 95 % t interval over seeds (a remedy's seed k starts from plain LB's x0 of seed k).
φ: full space at the first ε (the remedy's sharpness stage); λ_max: top Hessian eigenvalue on the predictors
subset; updates and samples: what training did; wall: seconds of training per seed on this machine.
"own SB / own gap": a remedy that changes the training method (an optimizer, an initialization, SAM,
augmentation, adversarial or proximal steps) also trains at SB, and its own gap is its SB − LB accuracy;
growing_batch's own SB is Smith et al.'s baseline, batch SB with the learning rate decayed where the batch
would grow, so its own gap tests their equivalence.

{gap_closed_table(run.gap_closed)}

{remedies_section_text(run)}

![gap closed vs sharpness]({link('gap_closed')})

![accuracy vs updates]({link('updates')})"""


def predictors(run: RunResults, link, numbers: dict) -> str:
    p = run.predictors
    return f"""## Which measure predicts generalization?

Every solution this run trained — SB and LB runs, every remedy (and its SB side), every sweep point,
every warm start — measured on the same {p['samples']}-sample training subset, and each
measure's Kendall τ with the generalization gap (train − test accuracy, points) and with the test loss, with
{100 * p['confidence']:g} % percentile-bootstrap intervals ({p['bootstrap']} resamples; Jiang et al. 2020). "all": every
solution; "within batch": τ inside each group of solutions that share their (final) batch size, averaged with
weights = the group's pairs, over groups of ≥ 3 (solutions per batch size: {', '.join(f'{b}: {k}' for b, k in p['batch_sizes'].items())})
— does the measure still rank when batch size is held fixed? Every measure is oriented larger = sharper
(1/σ² for the PAC-Bayes σ), except the noise scale, which is not a sharpness. Verdicts: *predicts* — the
within-batch interval lies above 0; *separates batch sizes only* — the interval over all solutions lies
above 0 but the within-batch one does not (*…, inversely*: below 0); *inverse* — the within-batch interval
lies below 0; *no* — none of these. The intervals resample solutions as if independent, which they are not (runs of one seed
share x0; the warm starts share one SB run), and about 15 measures × 2 targets × 2 scopes are judged,
each at {100 * p['confidence']:g} %: read them as descriptive, not as tests.

{left_out_text(p)}

{tau_table(run.taus)}

{predictors_text(run.taus)}

![Kendall τ of each measure]({link('predictors')})"""


def sweep(run: RunResults, link, numbers: dict) -> str:
    settings, threshold = run.params["sweep"], run.threshold
    return f"""## Accuracy and sharpness vs batch size

Every batch size trained for {settings['epochs']} epochs ({settings['seeds']} seed(s)); φ in the full space at
ε = {run.sweep[0]['epsilon']:g}. Rule (lbgap/experiments/sweep.py): the threshold is the smallest batch size whose mean test
accuracy is more than `sweep.drop` = {threshold.drop:g} points below the best smaller batch size.

{sweep_table(run.sweep_points)}

{threshold_text(run)}

![accuracy and sharpness vs batch size]({link('sweep')})"""


def warm_start(run: RunResults, link, numbers: dict) -> str:
    warm = run.warm_start
    return f"""## Warm-started large-batch training

SB (batch {warm['small_batch']}) iterates of seed {warm['seed']}, each followed by {warm['lb_epochs']} LB epochs (batch {warm['large_batch']}).

{points_table(pd.DataFrame(warm['points']), WARM_START_COLUMNS)}

![warm start]({link('warm_start')})"""


def trajectory(run: RunResults, link, numbers: dict) -> str:
    batch_sizes = run.batch_sizes
    return f"""## Sharpness along training

Seed {run.params['trajectory']['seed']}; φ in the full space of the iterate after each listed epoch, and its gradient noise scale
(beyond the paper; see the curvature section; nan where the |G|² or the tr Σ estimate was not
positive — the full-batch gradient was below the estimator's noise).

SB (batch {batch_sizes['sb']}):

{points_table(run.trajectories['sb'], TRAJECTORY_COLUMNS)}

LB (batch {batch_sizes['lb']}):

{points_table(run.trajectories['lb'], TRAJECTORY_COLUMNS)}

![sharpness along training]({link('trajectory')})"""


def curvature(run: RunResults, link, numbers: dict) -> str:
    table, measures = curvature_measures(run)
    # the paper's φ is the reference the others are compared with, not a measure that agrees with itself
    agreeing = [k for k, v in measures.items() if v["agrees"] and k != "paper_phi"]
    disagreeing = [k for k, v in measures.items() if v["agrees"] is False]
    noise = {r: run.curvature[r]["summary"]["noise_scale"] for r in ("sb", "lb")}
    threshold, rescaled = run.threshold, run.rescaling
    return f"""## Beyond the paper: curvature and flatness

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

BatchNorm statistics at these points: see *Figures* below.

![2-D loss surfaces]({link('surface')})"""


def grid(run: RunResults, link, numbers: dict) -> str:
    return grid_section_text(run.grid_table, run.grid, run.params["grid"], run.params["train"]["target_loss"],
                             run.params["predictors"]["confidence"], link)


def study(run: RunResults, link, numbers: dict) -> str:
    return study_section_text(run.study, run.params["study"], run.params["train"]["target_loss"], link, run.predictors)


def listed_params(run: RunResults, link, numbers: dict) -> str:
    return parameters(run.used_params())


def figures(run: RunResults, link, numbers: dict) -> str:
    return f"""## Figures

{BN_NOTE[run.bn_statistics]}

![training curves]({link('training_curves')})

![sharpness]({link('sharpness')})

![parametric plot between SB and LB]({link('interpolation')})

![curvilinear path between SB and LB]({link('curvilinear')})"""


SECTIONS: tuple[Section, ...] = (
    header, tables, maximizer, runs, at_target, paper, remedies, predictors, sweep, warm_start, trajectory, curvature, grid,
    study, listed_params, figures,
)


def render(run: RunResults, link: Callable[[str], str], numbers: dict) -> str:
    """The markdown report of `run`: its sections in order (`numbers`: its summary, computed once)."""
    return "\n\n".join(section(run, link, numbers) for section in SECTIONS) + "\n"
