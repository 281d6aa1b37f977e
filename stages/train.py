"""Stages `train_sb` and `train_lb`: train one network per seed with the regime's batch size."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import torch
import typer
from tqdm import tqdm

from lbgap.config import REGIMES, ParamsError, TrainParams
from lbgap.reporting import summarize
from lbgap.tensors import distance, parameters_of
from lbgap.training import train
from stages.common import (
    PARAMS_DEFAULT,
    ParamsOption,
    atomic_dir,
    checkpoint_path,
    clear_errors,
    load_data,
    load_params,
    model_for,
    write_csv,
    write_json,
)

app = typer.Typer(add_completion=False)
FINAL_KEYS = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "distance_from_x0", "epoch"]


@app.command()
def main(
    regime: Annotated[str, typer.Argument(help="sb (batch size from `small_batch`) or lb (from `batch`).")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="Folder for the checkpoints seed_<k>.pt (x0 and final weights).")],
    metrics: Annotated[Path, typer.Option(help="JSON file for per-seed final metrics and mean ± std.")],
    curves: Annotated[Path, typer.Option(help="CSV file for per-epoch train/test loss and accuracy.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `seeds` networks with Adam until the training loss stops improving (or max_epochs)."""
    with clear_errors():
        if regime not in REGIMES:
            raise ParamsError(f"regime must be one of {', '.join(REGIMES)} (got {regime!r})")
        config = TrainParams.parse(load_params(params), regime)
        dataset = load_data(data)
        config.check_fits(len(dataset.train))
        model_for(config.model, dataset)  # refuse bad model options before any training

    finals, records = [], []
    with atomic_dir(models) as folder:
        for seed in range(config.seeds):
            model = model_for(config.model, dataset, seed)
            x0 = {k: v.clone() for k, v in model.state_dict().items()}
            bar = tqdm(total=config.train.max_epochs, desc=f"{regime} batch {config.batch_size} seed {seed}", unit="epoch")

            def show(record, bar=bar):
                bar.update()
                bar.set_postfix(train_loss=f"{record.train_loss:.4f}", test_acc=f"{record.test_accuracy:.4f}")

            history = train(model, dataset, batch_size=config.batch_size, config=config.train, seed=seed, on_epoch=show)
            bar.close()
            travelled = distance(parameters_of(model), x0)
            torch.save(
                {"x0": x0, "final": model.state_dict(), "batch_size": config.batch_size, "seed": seed},
                checkpoint_path(folder, seed),
            )
            records += [{"seed": seed, **asdict(r)} for r in history]
            finals.append({"seed": seed, **asdict(history[-1]), "distance_from_x0": travelled})

    write_json(
        metrics,
        {"regime": regime, "batch_size": config.batch_size, "per_seed": finals, "summary": summarize(finals, FINAL_KEYS)},
    )
    write_csv(curves, pd.DataFrame(records))


if __name__ == "__main__":
    app()
