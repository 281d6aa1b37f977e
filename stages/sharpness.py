"""Stages `sharpness@sb` and `sharpness@lb`: the paper's Metric 2.1 at every seed's solution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.experiments.survey import survey_of_runs, survey_size
from lbgap.params.measures import SharpnessParams
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.outputs import stage, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="Checkpoint folder written by a train stage.")],
    out: Annotated[Path, typer.Option(help="JSON file for per-seed values and mean ± std.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """φ(ε) in the full space (A = I) and in a random p-dimensional subspace, for each ε and seed, at the final
    weights and where its training loss first reached train.target_loss."""
    with clear_errors():
        config = SharpnessParams.parse(load_params(params))
        inputs = load_inputs(config.runtime, data, checkpoints={"runs": (models, None)})

    runs = inputs.checkpoints["runs"]
    with tqdm(total=survey_size(runs, config.epsilons), desc=f"sharpness {models}", unit="maximization") as bar:
        document = survey_of_runs(
            inputs.model, runs, inputs.data.train, config.epsilons,
            subspace_dim=config.subspace_dim, maximizer=config.maximizer, seed=config.seed, chunk=config.runtime.eval_chunk,
            on_run=lambda text: (bar.set_postfix_str(text), bar.update()),
        )
    write_json(out, document)


if __name__ == "__main__":
    app()
