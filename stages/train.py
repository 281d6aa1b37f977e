"""Stages `train@sb` and `train@lb`: train one network per seed with the regime's batch size."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.devices import free_memory
from lbgap.params import ParamsError
from lbgap.params.core import TrainParams
from lbgap.params.experiments import kept_epochs
from lbgap.results import summarize
from lbgap.train.seeds import FINAL_KEYS, train_seeds
from lbgap.train.parallel import leave, synchronized
from lbgap.train.together import fits_together
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.processes import start_workers
from stages.resuming import resume_folder, resume_path
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
        if config.batch_size % config.runtime.workers:
            raise ParamsError(f"params: '{config.batch_key}' = {config.batch_size} does not split into "
                              f"{config.runtime.workers} equal worker batches ('runtime.workers')")
        workers = start_workers(config.runtime)  # more than one: under torchrun, one process per worker
        inputs = load_inputs(config.runtime, data, batches={config.batch_key: config.batch_size})

    writer = workers is None or workers.rank == 0  # every worker trains; one writes
    new_model = inputs.new_model if not config.runtime.sync_batchnorm else lambda seed: synchronized(inputs.new_model(seed))
    together = workers is None and fits_together(
        inputs.model, inputs.data.input_shape, config.batch_size, config.seeds, free_memory(inputs.device))
    # One process training its seeds one after the other resumes. Seeds trained together, and data-parallel
    # runs, restart: each worker's dropout stream and device would have to be saved and agreed on by all of
    # them, on every machine.
    resume = None if together or workers is not None else resume_folder(models, (config, sorted(keep)), data, inputs.device)
    if resume is not None and (found := resume.describe()):
        tqdm.write(found, file=sys.stderr)
    finals, records = [], []
    with tqdm(total=config.seeds * config.train.max_epochs, desc=f"{regime} batch {config.batch_size}", unit="epoch",
              disable=not writer) as bar:
        runs = train_seeds(
            new_model, inputs.data, batch_size=config.batch_size, seeds=config.seeds, config=config.train,
            amp=config.runtime.amp, keep_epochs=keep, together=together, resume=resume,
            workers=workers,
            on_epoch=lambda seed, r: (bar.update(), bar.set_postfix(seed=seed, train_loss=f"{r.train_loss:.4f}", test_acc=f"{r.test_accuracy:.4f}")),
        )
        runs = list(runs)
    if workers is not None:
        leave()
    if not writer:
        return
    with atomic_dir(models) as folder, atomic_dir(iterates) as iterates_folder:
        for checkpoint, kept, final, history in runs:
            finals.append(final)
            checkpoint.save(folder)
            kept.save(iterates_folder)
            records += history
    write_json(metrics, {
        "regime": regime, "batch_size": config.batch_size, "seeds_together": together, "per_seed": finals, "summary": summarize(finals, [*FINAL_KEYS, "updates", "samples", "seconds"]),
    })
    write_csv(curves, pd.DataFrame(records))
    # also one that an earlier run trained seed by seed and this one did not open (seeds together, workers)
    shutil.rmtree(resume_path(models), ignore_errors=True)


if __name__ == "__main__":
    app()
