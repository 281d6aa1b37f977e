"""Stage `predictors`: every solution the pipeline trained (SB and LB runs, every remedy, every sweep point,
every warm start) measured the same way, and each measure's Kendall τ with generalization
(lbgap.experiments.predictors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.experiments.predictors import Solution, fitted, measure_columns, measure_solutions, rank_correlations
from lbgap.measures.subspace import random_subspace
from lbgap.params.experiments import PredictorParams
from lbgap.tensors import parameters_of
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_checkpoints, load_inputs, load_params
from stages.outputs import stage, write_csv, write_json

app = typer.Typer(add_completion=False)


def solutions_of(config: PredictorParams, models: Path, model) -> list[Solution]:
    """The checkpoints of every training stage, by the folders dvc.yaml gives them (under `models`): each
    run's final weights, and its weights at the target training loss when it reached it."""
    families = [("sb", models / "sb", None), ("lb", models / "lb", None)]
    for name, with_small_batch in config.remedies:
        families.append((name, models / "mitigation" / name, None))
        if with_small_batch:
            families.append((f"{name} sb", models / "mitigation" / name / "sb", None))
    families += [("sweep", models / "sweep" / f"b{b}", f"b{b}") for b in config.sweep_batches]
    families += [("warm_start", models / "warm_start" / f"sb_{e}", f"after {e} SB epochs") for e in config.warm_start_epochs]
    found = []
    for family, folder, tag in families:
        for checkpoint in load_checkpoints(folder, model):
            label = " ".join(filter(None, [family, tag, f"seed {checkpoint.seed}"]))
            found.append(Solution(family, label, checkpoint.batch_size, checkpoint.x0, checkpoint.final))
            if checkpoint.at_target is not None:
                found.append(Solution(family, f"{label} at target loss", checkpoint.batch_size, checkpoint.x0,
                                      checkpoint.at_target, point="target"))
    return found


def ranked_out(frame) -> list[str]:
    """Labels of the solutions left out of the τ, with their train accuracy."""
    return [f"{r.label} ({r.train_accuracy:.1f} % train)" for r in frame[~frame.included].itertuples()]


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="The models folder: sb, lb, mitigation/<remedy>, sweep/b<batch>, warm_start/sb_<epochs>.")],
    out: Annotated[Path, typer.Option(help="JSON file: τ of every measure with each target, overall and within batch size.")],
    table: Annotated[Path, typer.Option(help="CSV file: one row per solution, its generalization and every measure.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Measure every solution on `curvature.samples` training samples and rank the measures by Kendall's τ."""
    with clear_errors():
        config = PredictorParams.parse(load_params(params))
        inputs = load_inputs(config.curvature.runtime, data)
        solutions = solutions_of(config, models, inputs.model)
        subset = training_subset(inputs.data.train, config.curvature.samples, config.curvature.seed)

    n = sum(p.numel() for p in parameters_of(inputs.model).values())
    subspace = random_subspace(n, config.sharpness.subspace_dim, config.sharpness.seed, inputs.device)
    with tqdm(total=len(solutions), desc="predictors", unit="solution") as bar:
        frame = measure_solutions(
            inputs.model, solutions, inputs.data, subset, config.curvature, config.sharpness.epsilons, subspace,
            config.sharpness.seed, on_solution=lambda label: (bar.update(), bar.set_postfix_str(label)),
        )
    frame["included"] = fitted(frame, config.min_train_accuracy)

    def study(rows, least: int = 0) -> dict:  # the τ of one set of solutions; fewer than `least` included: none
        ranked = rows[rows.included]
        taus = rank_correlations(ranked, measure_columns(frame), resamples=config.bootstrap, confidence=config.confidence,
                                 seed=config.seed) if len(ranked) >= least else pd.DataFrame()
        return {
            "solutions": len(rows), "included": len(ranked), "left_out": ranked_out(rows),
            "batch_sizes": {str(b): int(k) for b, k in ranked["batch_size"].value_counts().sort_index().items()},
            "tau": taus.to_dict(orient="records"),
        }

    # the runs ranked at the target are those that reached it and fit the training set at both points
    both = set(frame[(frame.point == "target") & frame.included].label.str.removesuffix(" at target loss"))
    both &= set(frame[(frame.point == "final") & frame.included].label)
    at_target = frame[(frame.point == "target") & frame.label.str.removesuffix(" at target loss").isin(both)]
    write_csv(table, frame)
    write_json(out, {
        "samples": len(subset), "min_train_accuracy": config.min_train_accuracy, "confidence": config.confidence,
        "bootstrap": config.bootstrap, **study(frame[frame.point == "final"]),
        # at the target loss (often few runs reach it: no τ under 3), and the same runs at their final
        # weights, so that only the point differs between the two
        "at_target_loss": study(at_target, least=3),
        "final_of_those_at_target": study(frame[(frame.point == "final") & frame.label.isin(both)], least=3),
    })


if __name__ == "__main__":
    app()
