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
from lbgap.params import REGIMES, ParamsError, kept_epochs
from lbgap.results import summarize
from lbgap.train.loop import train_config
from lbgap.train.seeds import FINAL_KEYS, plan_seeds, train_seeds
from lbgap.train.parallel import leave, synchronized
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, RegimeArgument, run
from stages.inputs import load_inputs
from stages.progress import EpochProgress
from stages.params import clear_errors, load_params
from stages.processes import start_workers
from stages.resuming import resume_folder, resume_path
from stages.outputs import atomic_dir, stage, write_csv, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    regime: RegimeArgument,
    data: DataOption,
    models: Annotated[Path, typer.Option(help="Folder for the checkpoints seed_<k>.pt (x0 and final weights).")],
    iterates: Annotated[Path, typer.Option(help="Folder for the kept iterates seed_<k>.pt (for trajectory and warm_start).")],
    metrics: Annotated[Path, typer.Option(help="JSON file for per-seed final metrics and mean ± std.")],
    curves: Annotated[Path, typer.Option(help="CSV file for per-epoch train/test loss and accuracy.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `seeds` networks with Adam until the training loss stops improving (or max_epochs), keeping
    the iterates that trajectory (and, for SB, warm_start) measure."""
    with clear_errors():
        if regime not in REGIMES:
            raise ParamsError(f"unknown regime {regime!r}; known: sb, lb")
        settings = load_params(params)
        batch_key, runtime = REGIMES[regime], settings.runtime
        batch_size, seeds = getattr(settings, batch_key), settings.seeds
        config, keep = train_config(settings.train, runtime.eval_chunk), kept_epochs(settings.trajectory, settings.warm_start)
        if batch_size % runtime.workers:
            raise ParamsError(f"params: '{batch_key}' = {batch_size} does not split into "
                              f"{runtime.workers} equal worker batches ('runtime.workers')")
        workers = start_workers(runtime)  # more than one: under torchrun, one process per worker
        inputs = load_inputs(runtime, data, batches={batch_key: batch_size})

    writer = workers is None or workers.rank == 0  # every worker trains; one writes
    new_model = inputs.new_model if not runtime.sync_batchnorm else lambda seed: synchronized(inputs.new_model(seed))
    plan = plan_seeds(inputs.model, inputs.data.input_shape, batch_size, seeds, free_memory(inputs.device), workers)
    key = (regime, batch_size, seeds, runtime, config, sorted(keep))
    resume = resume_folder(models, key, data, inputs.device) if plan.resumable else None
    if resume is not None and (found := resume.describe()):
        tqdm.write(found, file=sys.stderr)
    finals, records = [], []
    with tqdm(desc=f"{regime} batch {batch_size}", unit="epoch", disable=not writer) as bar:
        progress = EpochProgress(bar, [config.max_epochs] * seeds, sequential=not plan.together)
        runs = train_seeds(
            new_model, inputs.data, batch_size=batch_size, seeds=seeds, config=config,
            amp=runtime.amp, keep_epochs=keep, together=plan.together, resume=resume,
            workers=workers,
            on_epoch=lambda seed, r: (progress(seed, r), bar.set_postfix(seed=seed, train_loss=f"{r.train_loss:.4f}", test_acc=f"{100 * r.test_accuracy:.2f}%")),
        )
        runs = list(runs)
        progress.close()
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
        "regime": regime, "batch_size": batch_size, "seeds_together": plan.together, "per_seed": finals, "summary": summarize(finals, [*FINAL_KEYS, "updates", "samples", "seconds"]),
    })
    write_csv(curves, pd.DataFrame(records))
    # also one that an earlier run trained seed by seed and this one did not open (seeds together, workers)
    shutil.rmtree(resume_path(models), ignore_errors=True)


if __name__ == "__main__":
    run(app)
