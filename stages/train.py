"""Stages `train@sb` and `train@lb`: train one network per seed with the regime's batch size."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.devices import free_memory
from lbgap.params.core import TrainParams
from lbgap.params.experiments import kept_epochs
from lbgap.results import summarize
from lbgap.train.seeds import FINAL_KEYS, train_seeds
from lbgap.train.together import fits_together
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.outputs import atomic_dir, stage, write_csv, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    regime: Annotated[str, typer.Argument(help="sb (batch size from `small_batch`) or lb (from `batch`).")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="Folder for the checkpoints seed_<k>.pt (x0 and final weights).")],
    iterates: Annotated[Path, typer.Option(help="Folder for the kept iterates seed_<k>.pt (for trajectory and warm_start).")],
    metrics: Annotated[Path, typer.Option(help="JSON file for per-seed final metrics and mean ± std.")],
    curves: Annotated[Path, typer.Option(help="CSV file for per-epoch train/test loss and accuracy.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `seeds` networks with Adam until the training loss stops improving (or max_epochs), keeping
    the iterates that trajectory (and, for SB, warm_start) measure."""
    with clear_errors():
        raw = load_params(params)
        config, keep = TrainParams.parse(raw, regime), kept_epochs(raw)
        inputs = load_inputs(config.runtime, data, batches={config.batch_key: config.batch_size})

    together = fits_together(inputs.model, inputs.data.input_shape, config.batch_size, config.seeds, free_memory(inputs.device))
    finals, records = [], []
    with atomic_dir(models) as folder, atomic_dir(iterates) as iterates_folder, tqdm(total=config.seeds * config.train.max_epochs, desc=f"{regime} batch {config.batch_size}", unit="epoch") as bar:
        runs = train_seeds(
            inputs.new_model, inputs.data, batch_size=config.batch_size, seeds=config.seeds, config=config.train,
            amp=config.runtime.amp, keep_epochs=keep, together=together,
            on_epoch=lambda seed, r: (bar.update(), bar.set_postfix(seed=seed, train_loss=f"{r.train_loss:.4f}", test_acc=f"{r.test_accuracy:.4f}")),
        )
        start = clock = time.perf_counter()
        for checkpoint, kept, final, history in runs:
            now = time.perf_counter()
            finals.append({**final, "seconds": round(now - clock, 2)})
            clock = now
            checkpoint.save(folder)
            kept.save(iterates_folder)
            records += history
        if together:  # one wall time for all seeds: each gets an equal share
            finals = [{**f, "seconds": round((clock - start) / len(finals), 2)} for f in finals]
    write_json(metrics, {
        "regime": regime, "batch_size": config.batch_size, "seeds_together": together, "per_seed": finals, "summary": summarize(finals, [*FINAL_KEYS, "updates", "samples", "seconds"]),
    })
    write_csv(curves, pd.DataFrame(records))


if __name__ == "__main__":
    app()
