"""Stages `trajectory@sb` and `trajectory@lb`: sharpness of one run's iterates along training."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.experiments.trajectory import sharpness_along_training
from lbgap.measures.noise_scale import noise_scale
from lbgap.measures.sharpness import full_space_probe
from lbgap.params.experiments import TrajectoryParams
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, kept_iterates, load_inputs, load_params
from stages.outputs import stage, write_csv

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    regime: Annotated[str, typer.Argument(help="sb (batch size from `small_batch`) or lb (from `batch`).")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    iterates: Annotated[Path, typer.Option(help="Iterates folder of the regime's runs (written by train@<regime>).")],
    out: Annotated[Path, typer.Option(help="CSV file: epoch, training loss, accuracies, φ.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """φ of run `trajectory.seed`'s iterates after each epoch in `trajectory.at` (kept by train@<regime>)."""
    with clear_errors():
        config = TrajectoryParams.parse(load_params(params), regime)
        inputs = load_inputs(config.runtime, data, batches={config.batch_key: config.batch_size})
        kept = kept_iterates(iterates, config.seed, inputs.model, config.at_epochs, f"train@{regime}", "trajectory.at")

    chunk = config.runtime.eval_chunk
    probe = full_space_probe(inputs.data.train, config.probe.epsilon, chunk=chunk, maximizer=config.probe.maximizer, seed=config.probe.seed)
    with tqdm(total=len(kept), desc=f"trajectory {regime} batch {config.batch_size}", unit="point") as bar:
        points = sharpness_along_training(
            inputs.model, inputs.data, kept, chunk=chunk, measure=probe,
            on_point=lambda p: (bar.update(), bar.set_postfix(epoch=p.epoch, phi=f"{p.sharpness:.3g}")),
            noise=None if config.noise.batches == 0 else lambda m: noise_scale(
                m, inputs.data.train, small=config.noise.small, big=config.noise.big, batches=config.noise.batches,
                seed=config.noise.seed,
            ).b_simple,
            bn_statistics=config.bn_statistics,
        )
    write_csv(out, pd.DataFrame([{"regime": regime, "batch_size": config.batch_size, **asdict(p)} for p in points]))


if __name__ == "__main__":
    app()
