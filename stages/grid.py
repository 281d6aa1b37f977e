"""Stages `grid@<optimizer>-<batch>`: one cell of the learning-rate × batch-size grid — every learning rate
of `grid.learning_rates.<optimizer>` × `grid.seeds` runs at this batch size, each trained until its training
loss first reaches `train.target_loss`, and measured there (lbgap.experiments.grid)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.experiments.grid import FIRST_SEED, check_stackable, grid_cell
from lbgap.params import ParamsError, noise_scale_defined
from stages.inputs import load_inputs
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, run
from stages.params import check_listed, clear_errors, load_params
from stages.outputs import stage, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    optimizer: Annotated[str, typer.Argument(help="sgd or adam, one of `grid.optimizers`.", metavar="sgd|adam")],
    batch: Annotated[int, typer.Argument(help="The batch size, one of `grid.batches`.")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="JSON file: one row per run (its ending, accuracies and measures) and the first "
                                           "seed's training sharpness along training.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train this cell's runs to the target training loss and measure each where it ended."""
    with clear_errors():
        check_listed(params, "grid.optimizers", optimizer, "the grid's optimizer")
        check_listed(params, "grid.batches", batch, "the grid's batch size")
        settings = load_params(params)
        grid, runtime, curvature = settings.grid, settings.runtime, settings.curvature
        cell = {"learning_rates": getattr(grid.learning_rates, optimizer), "seeds": grid.seeds, "max_epochs": grid.max_epochs,
                "momentum": grid.momentum, "stacked": grid.stacked, "target_loss": settings.train.target_loss,
                "betas": settings.train.betas, "edge_every": grid.edge_every}
        noise_scale_defined(runtime.batchnorm, curvature.noise_scale.batches)
        measures = CurvatureSettings.of(curvature, settings.sharpness, runtime.eval_chunk)
        inputs = load_inputs(runtime, data, batches={"'grid.batches' entry": batch})
        try:  # stacked, a cell's runs train together
            check_stackable(inputs.model, len(cell["learning_rates"]) * grid.seeds if grid.stacked else 1)
        except ValueError as error:
            raise ParamsError(f"params: 'runtime.model' = {runtime.model} has dropout, and {error}: set 'grid.stacked' to false") from None
        subset = training_subset(inputs.data.train, curvature.samples, curvature.seed)

    with tqdm(total=len(cell["learning_rates"]) * cell["seeds"], desc=f"grid {optimizer} batch {batch}", unit="run") as bar:
        rows, edge_trace = grid_cell(
            inputs.new_model, inputs.data, subset, measures, optimizer=optimizer, batch_size=batch, **cell,
            on_run=lambda row: (bar.update(), bar.set_postfix(lr=row["learning_rate"], steps=row["steps"], reached=row["reached"])),
        )
    write_json(out, {"optimizer": optimizer, "batch_size": batch, "target_loss": cell["target_loss"], "first_seed": FIRST_SEED,
                     "samples": len(subset), "epsilon": measures.epsilon, "rows": rows, "edge_trace": edge_trace})


if __name__ == "__main__":
    run(app)
