"""Stages `trajectory@sb` and `trajectory@lb`: sharpness of one run's iterates along training."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.config import REGIMES, ParamsError, TrajectoryParams
from lbgap.curvature_config import NoiseScaleParams
from lbgap.noise_scale import noise_scale
from lbgap.sharpness import full_space_probe
from lbgap.trajectory import sharpness_along_training
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    ParamsOption,
    clear_errors,
    device_for,
    load_data,
    load_params,
    model_for,
    write_csv,
)

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    regime: Annotated[str, typer.Argument(help="sb (batch size from `small_batch`) or lb (from `batch`).")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    out: Annotated[Path, typer.Option(help="CSV file: epoch, training loss, accuracies, φ.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train seed `trajectory.seed` for max(`trajectory.at`) epochs; φ after each epoch in `trajectory.at`."""
    with clear_errors():
        raw = load_params(params)
        config = TrajectoryParams.parse(raw, regime)
        noise_settings = NoiseScaleParams.parse(raw)
        dataset = load_data(data)
        if config.batch_size > len(dataset.train):
            raise ParamsError(f"params: '{REGIMES[regime]}' = {config.batch_size} exceeds the {len(dataset.train)} training samples")
        model = model_for(config.model, dataset, config.seed)
        on_device = dataset.to(device_for(config.model))

    probe = full_space_probe(
        on_device.train, config.probe.epsilon, chunk=config.train.eval_chunk, max_iter=config.probe.max_iter,
        seed=config.probe.seed,
    )
    with tqdm(total=len(set(config.at_epochs)), desc=f"trajectory {regime} batch {config.batch_size}", unit="point") as bar:
        points = sharpness_along_training(
            model, on_device, batch_size=config.batch_size, at_epochs=config.at_epochs, config=config.train,
            seed=config.seed, measure=probe, amp=config.model.amp,
            on_point=lambda p: (bar.update(), bar.set_postfix(epoch=p.epoch, phi=f"{p.sharpness:.3g}")),
            noise=None if noise_settings.batches == 0 else lambda m: noise_scale(
                m, on_device.train, small=noise_settings.small, big=noise_settings.big, batches=noise_settings.batches,
                seed=noise_settings.seed,
            ).b_simple,
            bn_statistics=config.bn_statistics,
        )
    write_csv(out, pd.DataFrame([{"regime": regime, "batch_size": config.batch_size, **asdict(p)} for p in points]))


if __name__ == "__main__":
    app()
