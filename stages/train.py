"""Stages `train_sb` and `train_lb`: train one network per seed with the regime's batch size."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from lbgap.config import REGIMES, ParamsError, TrainParams
from lbgap.reporting import summarize
from stages.common import (
    stage,
    FINAL_KEYS,
    PARAMS_DEFAULT,
    ParamsOption,
    atomic_dir,
    clear_errors,
    load_data,
    load_params,
    model_for,
    train_seeds,
    write_csv,
    write_json,
)

app = typer.Typer(add_completion=False)


@app.command()
@stage
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

    with atomic_dir(models) as folder:
        finals, records, _ = train_seeds(config, dataset, config.seeds, folder, regime)

    write_json(
        metrics,
        {"regime": regime, "batch_size": config.batch_size, "per_seed": finals, "summary": summarize(finals, FINAL_KEYS)},
    )
    write_csv(curves, pd.DataFrame(records))


if __name__ == "__main__":
    app()
