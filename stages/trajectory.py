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
from lbgap.measures.maximizer import maximizer_of
from lbgap.params import REGIMES, ParamsError, noise_scale_defined, reached, run_seed
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, RegimeArgument, run
from stages.inputs import kept_iterates, load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_csv

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    regime: RegimeArgument,
    data: DataOption,
    iterates: Annotated[Path, typer.Option(help="Iterates folder of the regime's runs (written by train@<regime>).")],
    out: Annotated[Path, typer.Option(help="CSV file: epoch, training loss, accuracies, φ.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """φ of run `trajectory.seed`'s iterates after each epoch in `trajectory.at` (kept by train@<regime>)."""
    with clear_errors():
        if regime not in REGIMES:
            raise ParamsError(f"unknown regime {regime!r}; known: sb, lb")
        settings = load_params(params)
        config, runtime, sharpness, noise = settings.trajectory, settings.runtime, settings.sharpness, settings.curvature.noise_scale
        batch_key, bn_statistics, noise_seed = REGIMES[regime], settings.bn_statistics, settings.curvature.seed
        batch_size = getattr(settings, batch_key)
        run_seed(config.seed, "trajectory.seed", settings.seeds)
        reached(max(config.at), "trajectory.at", settings.train.max_epochs)
        noise_scale_defined(runtime.batchnorm, noise.batches)
        epsilon, maximizer, seed = sharpness.epsilon, maximizer_of(sharpness), sharpness.seed
        inputs = load_inputs(runtime, data, batches={batch_key: batch_size})
        kept = kept_iterates(iterates, config.seed, inputs.model, config.epochs, f"train@{regime}", "trajectory.at")

    chunk = runtime.eval_chunk
    probe = full_space_probe(inputs.data.train, epsilon, chunk=chunk, maximizer=maximizer, seed=seed)
    with tqdm(total=len(kept), desc=f"trajectory {regime} batch {batch_size}", unit="point") as bar:
        points = sharpness_along_training(
            inputs.model, inputs.data, kept, chunk=chunk, measure=probe,
            on_point=lambda p: (bar.update(), bar.set_postfix(epoch=p.epoch, phi=f"{p.sharpness:.3g}")),
            noise=None if noise.batches == 0 else lambda m: noise_scale(
                m, inputs.data.train, small=noise.small, big=noise.big, batches=noise.batches, seed=noise_seed,
            ).b_simple,
            bn_statistics=bn_statistics,
        )
    write_csv(out, pd.DataFrame([{"regime": regime, "batch_size": batch_size, **asdict(p)} for p in points]))


if __name__ == "__main__":
    run(app)
