"""Stage `report`: headline metrics, the markdown report and its figures, from the other stages' outputs."""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Annotated, Iterator

import pandas as pd
import typer
import yaml

from lbgap.config import REGIMES, SweepParams, bn_statistics, sweep_batches, sweep_drop
from lbgap.curvature_figures import density_figure, epsilon_figure
from lbgap.curvature_report import measures_table, rescaling_table
from lbgap.figures import mitigation_figure, sharpness_figure, sweep_figure, training_curves_figure, trajectory_figure
from lbgap.paper import DATA_OF, comparison_table, paper_row
from lbgap.reporting import (
    accuracy_table,
    distance_ratio,
    headline,
    mitigation_rows,
    mitigation_table,
    paper_quantities,
    pm,
    points_table,
    run_table,
    sharpness_table,
    sweep_frame,
    sweep_table,
)
from lbgap.sweep import threshold_batch
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    InputError,
    ParamsOption,
    clear_errors,
    load_params,
    write_csv,
    write_figure,
    write_json,
    write_text,
)

app = typer.Typer(add_completion=False)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{path} is not valid JSON; rebuild it with `dvc repro -f` on the stage that writes it") from None
    if not isinstance(document, dict):
        raise InputError(f"{path} does not hold a JSON object; rebuild it with `dvc repro -f` on the stage that writes it")
    return document


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError):  # pandas' EmptyDataError and ParserError are ValueErrors
        raise InputError(f"{path} is not a readable CSV; rebuild it with `dvc repro -f` on the stage that writes it") from None


def _null_if_undefined(value):
    """The headline metrics with NaN/inf as null: strict JSON, which `dvc exp show` and other readers take."""
    if isinstance(value, dict):
        return {k: _null_if_undefined(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@contextlib.contextmanager
def _well_formed_inputs() -> Iterator[None]:
    """Inputs that parse but lack the fields the report reads (a stage of another version, a hand edit)
    are an InputError, not a traceback."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise InputError(
            f"an input of the report lacks an expected field ({type(error).__name__}: {error}); "
            "re-run the stages that write its inputs (`dvc repro`)"
        ) from None


BN_NOTE = {  # how BN statistics were set where training did not produce the weights (lbgap.batchnorm)
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


def _pm_plain(stats: dict) -> str:
    return f"{stats['mean']:.4g}" if stats["std"] is None else f"{stats['mean']:.4g} ± {stats['std']:.2g}"


def _run_params(raw: dict) -> dict:
    """params.yaml as this run used it: `models` reduced to the chosen network's options."""
    chosen = raw.get("model")
    return {k: ({chosen: (v or {}).get(chosen)} if k == "models" else v) for k, v in raw.items()}


@app.command()
@stage
def main(
    train_sb: Annotated[Path, typer.Option(help="Metrics JSON of train_sb.")],
    train_lb: Annotated[Path, typer.Option(help="Metrics JSON of train_lb.")],
    curves_sb: Annotated[Path, typer.Option(help="Per-epoch CSV of train_sb.")],
    curves_lb: Annotated[Path, typer.Option(help="Per-epoch CSV of train_lb.")],
    sharpness_sb: Annotated[Path, typer.Option(help="JSON of sharpness_sb.")],
    sharpness_lb: Annotated[Path, typer.Option(help="JSON of sharpness_lb.")],
    interpolation_figure: Annotated[Path, typer.Option(help="PNG of the interpolate stage, linked from the report.")],
    curvilinear_figure: Annotated[Path, typer.Option(help="PNG of the curvilinear path, linked from the report.")],
    summary: Annotated[Path, typer.Option(help="Headline metrics JSON to write.")],
    report: Annotated[Path, typer.Option(help="Markdown report to write.")],
    figures: Annotated[Path, typer.Option(help="Folder for training_curves.png, sharpness.png and mitigation.png.")],
    mitigation: Annotated[
        list[Path], typer.Option(help="JSON of a mitigate stage; repeat for each strategy.")
    ] = [],  # noqa: B006 (typer reads the default, it is never mutated)
    sweep: Annotated[Path, typer.Option(help="Folder of the sweep stages' b<batch>.json (those of `sweep.batches` are read).")] = Path("metrics/sweep"),
    sweep_out: Annotated[Path, typer.Option(help="CSV file to write: the sweep, one row per batch size.")] = Path("plots/sweep.csv"),
    warm_start: Annotated[Path, typer.Option(help="JSON of the warm_start stage.")] = Path("metrics/warm_start.json"),
    warm_start_figure: Annotated[Path, typer.Option(help="PNG of the warm_start stage, linked from the report.")] = Path("plots/warm_start.png"),
    trajectory_sb: Annotated[Path, typer.Option(help="CSV of trajectory@sb.")] = Path("plots/trajectory_sb.csv"),
    trajectory_lb: Annotated[Path, typer.Option(help="CSV of trajectory@lb.")] = Path("plots/trajectory_lb.csv"),
    curvature_sb: Annotated[Path, typer.Option(help="JSON of curvature@sb.")] = Path("metrics/curvature_sb.json"),
    curvature_lb: Annotated[Path, typer.Option(help="JSON of curvature@lb.")] = Path("metrics/curvature_lb.json"),
    spectrum_sb: Annotated[Path, typer.Option(help="SLQ CSV of curvature@sb.")] = Path("plots/spectrum_sb.csv"),
    spectrum_lb: Annotated[Path, typer.Option(help="SLQ CSV of curvature@lb.")] = Path("plots/spectrum_lb.csv"),
    epsilons_sb: Annotated[Path, typer.Option(help="φ-vs-ε CSV of curvature@sb.")] = Path("plots/epsilon_sensitivity_sb.csv"),
    epsilons_lb: Annotated[Path, typer.Option(help="φ-vs-ε CSV of curvature@lb.")] = Path("plots/epsilon_sensitivity_lb.csv"),
    rescaling: Annotated[Path, typer.Option(help="JSON of the rescaling stage.")] = Path("metrics/rescaling.json"),
    surface_figure: Annotated[Path, typer.Option(help="PNG of the surface stage, linked from the report.")] = Path("plots/surface.png"),
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Summarize the run: Tables 2-4 of the paper for this run, figures, and metrics/summary.json."""
    with clear_errors():
        raw = load_params(params)
        train = {"sb": _read_json(train_sb), "lb": _read_json(train_lb)}
        sharp = {"sb": _read_json(sharpness_sb), "lb": _read_json(sharpness_lb)}
        curves = {"sb": _read_csv(curves_sb), "lb": _read_csv(curves_lb)}
        remedies = [_read_json(path) for path in mitigation]
        batches = sweep_batches(raw)
        sweep_config = SweepParams.parse(raw, batches[0])
        drop = sweep_drop(raw)
        bn_mode = bn_statistics(raw)
        sweep_points = sweep_frame([_read_json(sweep / f"b{b}.json") for b in batches])
        warm = _read_json(warm_start)
        trajectories = {"sb": _read_csv(trajectory_sb), "lb": _read_csv(trajectory_lb)}
        curvature = {"sb": _read_json(curvature_sb), "lb": _read_json(curvature_lb)}
        spectra = {"sb": _read_csv(spectrum_sb), "lb": _read_csv(spectrum_lb)}
        epsilon_frames = {"sb": _read_csv(epsilons_sb), "lb": _read_csv(epsilons_lb)}
        rescaled = _read_json(rescaling)
    with clear_errors(), _well_formed_inputs():
        label = f"{raw.get('model')} on {raw.get('data', {}).get('name')}"
        batch_sizes = {r: train[r]["batch_size"] for r in REGIMES}
        numbers = headline(train, sharp)
        ratio = distance_ratio(train)
        numbers["distance_ratio"] = {"mean": ratio["mean"], "std": ratio["std"]}
        net, same = paper_row(str(raw.get("model")), str(raw.get("data", {}).get("name")))
        rows = mitigation_rows(train, sharp, remedies)
        numbers["mitigation"] = {
            m["strategy"]: {
                "test_acc_pct": 100 * m["train"]["summary"]["test_accuracy"]["mean"],
                "sharpness": {
                    space: {key: stats["phi"]["mean"] for key, stats in by_eps.items()}
                    for space, by_eps in m["sharpness"]["summary"].items()
                },
            }
            for m in remedies
        }

        threshold = threshold_batch(sweep_points.batch_size.tolist(), sweep_points.test_accuracy_mean.tolist(), drop)
        numbers["sweep"] = {"threshold_batch": threshold.batch_size, "threshold_crossing": threshold.crossing}
        warm_frame = pd.DataFrame(warm["points"])
        numbers["warm_start"] = {
            f"sb_epochs_{row.sb_epochs}": {"lb_test_acc_pct": 100 * row.lb_test_accuracy, "lb_sharpness": row.lb_sharpness}
            for row in warm_frame.itertuples()
        }
        numbers["trajectory"] = {r: {"final_sharpness": float(t.sharpness.iloc[-1])} for r, t in trajectories.items()}
        write_csv(sweep_out, sweep_points)
        sweep_png, trajectory_png = figures / "sweep.png", figures / "trajectory.png"
        write_figure(sweep_png, sweep_figure(sweep_points, threshold.crossing, sweep_config.epochs))
        write_figure(trajectory_png, trajectory_figure(trajectories, batch_sizes))
        if threshold.batch_size is None:
            threshold_text = (f"No threshold in the swept range: no batch size tested more than {threshold.drop:g} points "
                              "below the best smaller one.")
        else:
            threshold_text = (
                f"Threshold batch size: **{threshold.batch_size}** (test accuracy {threshold.accuracy:.2f} %, more than "
                f"{threshold.drop:g} points below {threshold.reference_accuracy:.2f} % at batch {threshold.reference_batch}); "
                f"interpolated crossing ≈ {threshold.crossing:.0f}."
            )
        trajectory_columns = {"epoch": ("epoch", 1, 0), "train loss": ("train_loss", 1, 4), "test accuracy (%)": ("test_accuracy", 100, 2), "φ": ("sharpness", 1, 2), "noise scale B_simple": ("noise_scale", 1, 0)}

        first_key = next(iter(sharp["sb"]["summary"]["full"]))
        table, measures = measures_table(
            {r: curvature[r]["summary"] for r in REGIMES}, {r: sharp[r]["summary"]["full"][first_key]["phi"] for r in REGIMES}
        )
        numbers["curvature"] = {key: value["lb_over_sb"] for key, value in measures.items()}
        noise = {r: curvature[r]["summary"]["noise_scale"] for r in REGIMES}
        density_png, epsilon_png = figures / "hessian_density.png", figures / "epsilon_sensitivity.png"
        write_figure(density_png, density_figure(spectra, batch_sizes))
        write_figure(epsilon_png, epsilon_figure(epsilon_frames, batch_sizes))
        # the paper's φ is the reference the others are compared with, not a measure that agrees with itself
        agreeing = [k for k, v in measures.items() if v["agrees"] and k != "paper_phi"]
        disagreeing = [k for k, v in measures.items() if v["agrees"] is False]

        curves_png, sharpness_png = figures / "training_curves.png", figures / "sharpness.png"
        write_figure(curves_png, training_curves_figure(curves, batch_sizes))
        write_figure(sharpness_png, sharpness_figure({r: sharp[r]["summary"] for r in REGIMES}, batch_sizes))
        mitigation_png = figures / "mitigation.png"
        first = next(iter(sharp["sb"]["summary"]["full"]))  # the first ε's key
        bars = [{"name": r["name"], "test_accuracy": r["train"]["test_accuracy"], "phi": r["sharpness"]["full"][first]["phi"]} for r in rows]
        write_figure(mitigation_png, mitigation_figure(bars))

        def link(path: Path) -> str:
            return Path(os.path.relpath(path, report.parent)).as_posix()

        seeds = len(train["sb"]["per_seed"])
        text = f"""# Large-batch generalization gap: {label}

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

{mitigation_table(rows)}

![remedies]({link(mitigation_png)})

## Accuracy and sharpness vs batch size

Every batch size trained for {sweep_config.epochs} epochs ({sweep_config.seeds} seed(s)); φ in the full space at
ε = {sweep_config.probe.epsilon:g}. Rule (lbgap/sweep.py): the threshold is the smallest batch size whose mean test
accuracy is more than `sweep.drop` = {drop:g} points below the best smaller batch size.

{sweep_table(sweep_points)}

{threshold_text}

![accuracy and sharpness vs batch size]({link(sweep_png)})

## Warm-started large-batch training

SB (batch {warm['small_batch']}) iterates of seed {warm['seed']}, each followed by {warm['lb_epochs']} LB epochs (batch {warm['large_batch']}).

{points_table(warm_frame, {"SB epochs": ("sb_epochs", 1, 0), "SB test accuracy (%)": ("sb_test_accuracy", 100, 2), "LB test accuracy (%)": ("lb_test_accuracy", 100, 2), "LB train loss": ("lb_train_loss", 1, 4), "φ of the LB solution": ("lb_sharpness", 1, 2)})}

![warm start]({link(warm_start_figure)})

## Sharpness along training

Seed {(raw.get('trajectory') or {}).get('seed')}; φ in the full space of the iterate after each listed epoch, and its gradient noise scale
(beyond the paper; see the curvature section; nan where the |G|² or the tr Σ estimate was not
positive — the full-batch gradient was below the estimator's noise).

SB (batch {batch_sizes['sb']}):

{points_table(trajectories['sb'], trajectory_columns)}

LB (batch {batch_sizes['lb']}):

{points_table(trajectories['lb'], trajectory_columns)}

![sharpness along training]({link(trajectory_png)})

## Beyond the paper: curvature and flatness

Every measure at each seed's SB and LB solution, on a seeded subset of {curvature['sb']['samples']} training
samples (mean ± std over seeds; φ rows there use the same subset). "LB sharper?" says whether the
measure calls LB the sharper solution, as the paper's φ does (for σ, larger means flatter).
{len(agreeing)} of {len(agreeing) + len(disagreeing)} measures agree with the paper's φ{'' if not disagreeing else '; not: ' + ', '.join(disagreeing)}.

{table}

Gradient noise scale B_simple: SB {_pm_plain(noise['sb'])}, LB {_pm_plain(noise['lb'])} samples
(McCandlish et al.: batches much larger than B_simple stop saving steps), beside the sweep's threshold
batch size: {'none in range' if threshold.batch_size is None else threshold.batch_size}.

![Hessian eigenvalue density]({link(density_png)})

![φ against ε]({link(epsilon_png)})

### Function-preserving rescaling (Dinh et al. 2017)

BatchNorm γ and β of block {rescaled['block']} multiplied by {rescaled['factor']:g} and the next layer's weight divided by
it, at seed {rescaled['seed']}'s solutions. Predictions unchanged: largest logit change {rescaled['sb']['max_relative_logit_change']:.1e} (SB),
{rescaled['lb']['max_relative_logit_change']:.1e} (LB) of the largest logit; loss {rescaled['lb']['loss_before']:.6f} → {rescaled['lb']['loss_after']:.6f} (LB).

{rescaling_table(rescaled)}

### 2-D loss surfaces (filter-normalized, Li et al. 2018)

{BN_NOTE[bn_mode]}

![2-D loss surfaces]({link(surface_figure)})

## Parameters of this run

```yaml
{yaml.safe_dump(_run_params(raw), sort_keys=False, default_flow_style=None).strip()}
```

## Figures

{BN_NOTE[bn_mode]}

![training curves]({link(curves_png)})

![sharpness]({link(sharpness_png)})

![parametric plot between SB and LB]({link(interpolation_figure)})

![curvilinear path between SB and LB]({link(curvilinear_figure)})
"""
    write_json(summary, _null_if_undefined(numbers))
    write_text(report, text)


if __name__ == "__main__":
    app()
