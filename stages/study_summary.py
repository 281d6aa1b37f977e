"""Stage `study_summary`: the designed study's table — one row per run of every `study@<batch size>` stage —
and every measure's scores on it (lbgap.experiments.study_summary)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lbgap.experiments.study_summary import study_summary
from stages.options import PARAMS_DEFAULT, ParamsOption, run
from stages.documents import read_cells
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_csv, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    cells: Annotated[Path, typer.Option(help="Folder of the study@ stages' JSON files.")],
    table: Annotated[Path, typer.Option(help="CSV file: one row per run, one column per hyperparameter and measure.")],
    out: Annotated[Path, typer.Option(help="JSON file: every measure's and baseline's scores with intervals, and the verdict.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Join the study's rows into one table and score every measure on it."""
    with clear_errors():
        settings = load_params(params)
        study, predictors = settings.study, settings.predictors
        options = {"delta": study.delta, "resamples": predictors.bootstrap, "confidence": predictors.confidence, "seed": predictors.seed}
        documents, frame = read_cells(cells, [f"b{b}.json" for b in study.batch_sizes], "study_summary")
    write_csv(table, frame)
    write_json(out, study_summary(frame, test_samples=documents[0]["test_samples"], **options))


if __name__ == "__main__":
    run(app)
