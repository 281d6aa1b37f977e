"""Stages `sharpness@sb` and `sharpness@lb`: the paper's Metric 2.1 at every seed's solution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.experiments.survey import survey_of_runs, survey_size
from lbgap.measures.maximizer import maximizer_of
from stages.options import DataOption, ModelsOption, PARAMS_DEFAULT, ParamsOption, run
from stages.inputs import load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: DataOption,
    models: ModelsOption,
    out: Annotated[Path, typer.Option(help="JSON file for per-seed values and mean ± std.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """φ(ε) in the full space (A = I) and in a random p-dimensional subspace, for each ε and seed, at the final
    weights and where its training loss first reached train.target_loss."""
    with clear_errors():
        settings = load_params(params)
        sharpness, runtime = settings.sharpness, settings.runtime
        inputs = load_inputs(runtime, data, checkpoints={"runs": (models, None)})

    runs = inputs.checkpoints["runs"]
    with tqdm(total=survey_size(runs, sharpness.epsilons), desc=f"sharpness {models}", unit="maximization") as bar:
        document = survey_of_runs(
            inputs.model, runs, inputs.data.train, sharpness.epsilons, subspace_dim=sharpness.subspace_dim,
            maximizer=maximizer_of(sharpness, paper_protocol=True, subspace=True), seed=sharpness.seed, chunk=runtime.eval_chunk,
            on_run=lambda text: (bar.set_postfix_str(text), bar.update()),
        )
    write_json(out, document)


if __name__ == "__main__":
    run(app)
