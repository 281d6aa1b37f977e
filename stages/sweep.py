"""Stages `sweep@<batch>`: one point of the batch-size sweep — every seed trained with that batch size
for the fixed epoch budget, then its test accuracy and sharpness (the report draws the curve)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.config import ParamsError, SweepParams
from lbgap.reporting import summarize
from lbgap.sharpness import full_space_probe
from lbgap.sweep import sweep_batch
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    ParamsOption,
    clear_errors,
    device_for,
    load_data,
    load_params,
    model_for,
    write_json,
)

app = typer.Typer(add_completion=False)
SWEEP_KEYS = ["train_loss", "train_accuracy", "test_accuracy", "sharpness"]


@app.command()
@stage
def main(
    batch: Annotated[int, typer.Argument(help="The batch size, one of `sweep.batches`.")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    out: Annotated[Path, typer.Option(help="JSON file for per-seed results and mean ± std.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `sweep.seeds` networks with this batch size for `sweep.epochs` epochs; accuracy and φ."""
    with clear_errors():
        config = SweepParams.parse(load_params(params), batch)
        dataset = load_data(data)
        if batch > len(dataset.train):
            raise ParamsError(f"params: 'sweep.batches' entry {batch} exceeds the {len(dataset.train)} training samples")
        model_for(config.model, dataset)  # refuse bad model options before any training
        on_device = dataset.to(device_for(config.model))

    probe = full_space_probe(
        on_device.train, config.probe.epsilon, chunk=config.train.eval_chunk, max_iter=config.probe.max_iter,
        seed=config.probe.seed,
    )
    with tqdm(total=config.seeds, desc=f"sweep batch {batch}", unit="seed") as bar:
        runs = sweep_batch(
            lambda seed: model_for(config.model, dataset, seed), on_device, batch, epochs=config.epochs,
            seeds=config.seeds, config=config.train, measure=probe, amp=config.model.amp,
            on_seed=lambda run: (bar.update(), bar.set_postfix(test_acc=f"{run.test_accuracy:.4f}", phi=f"{run.sharpness:.3g}")),
        )
    rows = [asdict(run) for run in runs]
    write_json(out, {
        "batch_size": batch, "epochs": config.epochs, "epsilon": config.probe.epsilon, "per_seed": rows,
        "summary": summarize(rows, SWEEP_KEYS),
    })


if __name__ == "__main__":
    app()
