"""Stages `sharpness_sb` and `sharpness_lb`: the paper's Metric 2.1 at every seed's solution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.config import SharpnessParams
from lbgap.sharpness import sharpness_survey
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    ParamsOption,
    checkpoint_seeds,
    clear_errors,
    device_for,
    load_checkpoint,
    load_data,
    load_params,
    model_for,
    write_json,
)

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="Checkpoint folder written by a train stage.")],
    out: Annotated[Path, typer.Option(help="JSON file for per-seed values and mean ± std.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """φ(ε) in the full space (A = I) and in a random p-dimensional subspace, for each ε and seed."""
    with clear_errors():
        config = SharpnessParams.parse(load_params(params))
        dataset = load_data(data)
        model = model_for(config.model, dataset)
        states = [load_checkpoint(models, seed, model) for seed in checkpoint_seeds(models)]
        dataset = dataset.to(device_for(config.model))

    runs = len(states) * 2 * len(config.epsilons)
    with tqdm(total=runs, desc=f"sharpness {models}", unit="run") as bar:
        document = sharpness_survey(
            model, [(s["seed"], s["final"]) for s in states], dataset.train, config.epsilons,
            subspace_dim=config.subspace_dim, max_iter=config.max_iter, seed=config.seed, chunk=config.eval_chunk,
            on_run=lambda text: (bar.set_postfix_str(text), bar.update()),
        )
    write_json(out, document)

if __name__ == "__main__":
    app()
