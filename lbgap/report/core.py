"""The paper's core result of one run on its own: Tables 2–4, how each run ended, the distance travelled,
the training curves and the SB→LB interpolation, beside the paper's numbers.

For runs that train, measure sharpness and interpolate but skip the rest of the pipeline — a targeted
`dvc exp run … sharpness@sb sharpness@lb interpolate`, as a long real-data run is — so the result can be
kept in a results folder with the command that produced it and its wall time (stages/core_report.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import pandas as pd
from matplotlib.figure import Figure

from lbgap.report.figures import sharpness_figure, training_curves_figure
from lbgap.report.numbers import REGIME_NAMES, distance_ratio, headline
from lbgap.report.sections import beside_paper, distance_text, paper_tables, parameters, run_header
from lbgap.report.target import regimes_target_section, target_loss_ratio, target_ratios
from lbgap.report.tables import (
    certificate_frame, flagged_measurements, maximizer_section, run_table,
)
from lbgap.train.loop import should_stop


@dataclass(frozen=True)
class CoreReport:
    markdown: str
    summary: dict  # headline numbers, how runs ended, the command and its wall time
    figures: dict[str, Figure]  # name → figure (written as <name>.png beside the report)


def ending(losses: list[float], cap: int, patience: int, min_delta: float) -> str:
    """Why a run with per-epoch training losses `losses` (epochs 1 .. n) stopped, by the loop's own rules
    (lbgap.train.loop): 'diverged' (non-finite loss), 'stopping rule' (it fired at the last epoch, even if
    that is the cap) or 'cap'."""
    if not math.isfinite(losses[-1]):
        return "diverged"
    if should_stop(losses, patience, min_delta):
        return "stopping rule"
    return "cap" if len(losses) >= cap else "unknown"


def endings_frame(train: Mapping[str, Mapping], curves: Mapping[str, pd.DataFrame], params: Mapping) -> pd.DataFrame:
    """One row per run: regime, seed, epochs, how it ended, final train loss, train and test accuracy (%)."""
    t = params["train"]
    rows = []
    for regime in ("sb", "lb"):
        for f in train[regime]["per_seed"]:
            run = curves[regime][(curves[regime].seed == f["seed"]) & (curves[regime].epoch > 0)].sort_values("epoch")
            rows.append({
                "regime": REGIME_NAMES[regime], "seed": f["seed"], "epochs": f["epoch"],
                "ended by": ending(run.train_loss.tolist(), int(t["max_epochs"]), int(t["patience"]), float(t["min_delta"])),
                "train loss": round(f["train_loss"], 4), "train acc (%)": round(100 * f["train_accuracy"], 2),
                "test acc (%)": round(100 * f["test_accuracy"], 2), "‖x − x0‖": round(f["distance_from_x0"], 1),
                "seconds": f.get("seconds"),
            })
    return pd.DataFrame(rows)


def core_report(
    params: Mapping, train: Mapping[str, Mapping], curves: Mapping[str, pd.DataFrame], sharpness: Mapping[str, Mapping],
    *, command: str, seconds: float, commit: str, interpolation: str,
) -> CoreReport:
    """The report of a run from its train and sharpness stages' documents and per-epoch curves; `command`,
    `seconds` (wall) and `commit` say how it was produced; `interpolation` links the interpolate stage's figure."""
    cap = int(params["train"]["max_epochs"])
    numbers, ratio, ends = headline(train, sharpness), distance_ratio(train), endings_frame(train, curves, params)
    certificates = certificate_frame(sharpness)
    training_seconds = float(ends["seconds"].sum())
    batch_sizes = {r: train[r]["batch_size"] for r in ("sb", "lb")}
    counts = {REGIME_NAMES[r]: ends[ends.regime == REGIME_NAMES[r]]["ended by"].value_counts().to_dict() for r in ("sb", "lb")}
    seeds = len(train["sb"]["per_seed"])
    markdown = f"""{run_header("The paper's core result", params, train, sharpness['sb']['parameters'])}

Produced by the pipeline at commit `{commit}` with

```bash
{command}
```

The command took {seconds / 60:.0f} min wall time ({seconds:,.0f} s, with data preparation and the
measurements; over all its invocations when it was interrupted and resumed); the training runs recorded {training_seconds / 60:.0f} min in all (their `seconds`, summed over
seeds and over the segments of any resumed run).

{paper_tables(params, train, sharpness, numbers)}

{regimes_target_section(params, train, sharpness)}

{beside_paper(params, train, sharpness)}

## Runs: how each ended (cap {cap} epochs; stopping rule: {params['train']['patience']} epochs without the training loss falling {params['train']['min_delta']} below its best, ending at a loss at most their median)

{ends.to_markdown(index=False)}

{run_table(train, sharpness)}

{distance_text(train)}

## φ per seed, and the certificate of each maximization

{certificates.drop(columns="not measured").to_markdown(index=False, disable_numparse=True)}

{maximizer_section(sharpness)}

## Figures

![training curves](training_curves.png)

![sharpness](sharpness.png)

![interpolation]({interpolation})

{parameters(params)}
"""
    summary = {
        **numbers, "distance_ratio": ratio["mean"], "ended_by": counts, "seeds": seeds, "parameters": sharpness["sb"]["parameters"],
        "sharpness_flagged": flagged_measurements(certificates), "at_target_loss": {
            "target_loss": params["train"].get("target_loss"), "sharpness": target_ratios(sharpness),
            "train_loss_lb_over_sb": target_loss_ratio(train)},
        "command": command, "seconds": round(seconds, 1), "training_seconds": round(training_seconds, 1), "commit": commit,
    }
    figures = {"training_curves": training_curves_figure(curves, batch_sizes), "sharpness": sharpness_figure(
        {r: sharpness[r]["per_seed"] for r in ("sb", "lb")}, batch_sizes)}
    return CoreReport(markdown, summary, figures)
