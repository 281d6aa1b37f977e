"""The headline numbers of a run of benchmarks/fashion_f1_device.sh (F1 on Fashion-MNIST, BN by batch statistics,
on an accelerator): the same numbers a results folder's summary.json holds (lbgap.report), read from the
stage outputs the script copied, plus each LB seed's φ under the validated maximizer beside the paper's
protocol at the same point — where the paper's 10 L-BFGS-B iterations stall on a solution with a tiny gradient.

    python -m benchmarks.fashion_f1_device benchmarks/results/fashion_f1_batch_cuda

Writes <folder>/summary.json and prints the per-seed table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lbgap.report.numbers import distance_ratio, headline
from lbgap.report.tables import certificate_frame, flagged_measurements
from lbgap.report.target import flagged_at_target, target_loss_ratio, target_ratios

app = typer.Typer(add_completion=False)
REGIMES = ("sb", "lb")


def per_seed(train: dict, sharpness: dict, space: str = "full", key: str = "eps_1e-03") -> list[dict]:
    """One row per (regime, seed): final training loss, train/test accuracy (%), φ (validated) and the paper
    protocol's φ in `space` at ε `key`."""
    rows = []
    for regime in REGIMES:
        runs = {r["seed"]: r for r in train[regime]["per_seed"]}
        for record in sharpness[regime]["per_seed"][space][key]:
            run = runs[record["seed"]]
            rows.append({"regime": regime, "seed": record["seed"], "train_loss": run["train_loss"],
                         "train_acc_pct": 100 * run["train_accuracy"], "test_acc_pct": 100 * run["test_accuracy"],
                         "phi": record["phi"], "paper_protocol_phi": record.get("paper_protocol_phi"),
                         "certified": record.get("certified")})
    return rows


def summarize(folder: Path) -> dict:
    train = {r: json.loads((folder / f"train_{r}.json").read_text()) for r in REGIMES}
    sharpness = {r: json.loads((folder / f"sharpness_{r}.json").read_text()) for r in REGIMES}
    return {
        **headline(train, sharpness), "distance_ratio": distance_ratio(train)["mean"],
        "sharpness_flagged": flagged_measurements(certificate_frame(sharpness)),
        "at_target_loss": {"sharpness": target_ratios(sharpness), "train_loss_lb_over_sb": target_loss_ratio(train),
                           "flagged": flagged_at_target(sharpness)},
        "per_seed_full_eps_1e-03": per_seed(train, sharpness),
    }


@app.command()
def main(folder: Annotated[Path, typer.Argument(help="The folder holding train_{sb,lb}.json and sharpness_{sb,lb}.json.")]) -> None:
    summary = summarize(folder)
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    for row in summary["per_seed_full_eps_1e-03"]:
        print(f"{row['regime']} seed {row['seed']}: train loss {row['train_loss']:.2e}, test {row['test_acc_pct']:.2f} %, "
              f"φ {row['phi']:.4g} (paper's protocol {row['paper_protocol_phi']:.4g}), certified {row['certified']}")


if __name__ == "__main__":
    app()
