"""Stage `grid_summary`: the grid's table — one row per run of every `grid@<optimizer>-<batch>` cell — and
the theories' predictions fitted on it (lbgap.experiments.grid.grid_summary)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lbgap.experiments.grid_analysis import edge_table, grid_summary
from stages.options import PARAMS_DEFAULT, ParamsOption, run
from stages.documents import read_cells
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_csv, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    cells: Annotated[Path, typer.Option(help="Folder of the grid@ stages' JSON files.")],
    table: Annotated[Path, typer.Option(help="CSV file: one row per run, one column per measure.")],
    edge_table_out: Annotated[Path, typer.Option("--edge-table", help="CSV file: the first seed's training sharpness "
                                                 "against its stability threshold along training, one row per record.")],
    out: Annotated[Path, typer.Option(help="JSON file: each prediction with its interval, per optimizer.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Join the cells' rows into one table and fit the predictions on it; join their edge traces into another."""
    with clear_errors():
        settings = load_params(params)
        grid, predictors = settings.grid, settings.predictors
        documents, frame = read_cells(cells, sorted(f"{o}_{b}.json" for o in grid.optimizers for b in grid.batches), "grid_summary")
    trace = edge_table(documents)
    write_csv(table, frame)
    write_csv(edge_table_out, trace)
    write_json(out, grid_summary(frame, trace, resamples=predictors.bootstrap, confidence=predictors.confidence, seed=predictors.seed))


if __name__ == "__main__":
    run(app)
