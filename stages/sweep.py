"""Stages `sweep@<batch>`: one point of the batch-size sweep — every seed trained with that batch size
for the fixed epoch budget, then its test accuracy and sharpness (the report draws the curve)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.experiments.sweep import sweep_batch
from lbgap.measures.sharpness import full_space_probe
from lbgap.measures.maximizer import maximizer_of
from lbgap.results import summarize
from lbgap.train.loop import budget_config
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, run
from stages.inputs import load_inputs
from stages.params import check_listed, clear_errors, load_params
from stages.outputs import atomic_dir, stage, write_json

app = typer.Typer(add_completion=False)
SWEEP_KEYS = ["train_loss", "train_accuracy", "test_accuracy", "sharpness"]


@app.command()
@stage
def main(
    batch: Annotated[int, typer.Argument(help="The batch size, one of `sweep.batches`.")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="JSON file for per-seed results and mean ± std.")],
    models: Annotated[Path, typer.Option(help="Folder for the checkpoints seed_<k>.pt (for the predictors stage).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `sweep.seeds` networks with this batch size for `sweep.epochs` epochs; accuracy and φ."""
    with clear_errors():
        check_listed(params, "sweep.batches", batch, "the sweep's batch size")
        settings = load_params(params)
        sweep, runtime, sharpness = settings.sweep, settings.runtime, settings.sharpness
        epochs, seeds = sweep.epochs, sweep.seeds
        config = budget_config(settings.train, runtime.eval_chunk, epochs)
        epsilon, maximizer, seed = sharpness.epsilon, maximizer_of(sharpness), sharpness.seed
        inputs = load_inputs(runtime, data, batches={"'sweep.batches' entry": batch})

    probe = full_space_probe(inputs.data.train, epsilon, chunk=runtime.eval_chunk, maximizer=maximizer, seed=seed)
    with atomic_dir(models) as folder, tqdm(total=seeds * epochs, desc=f"sweep batch {batch}", unit="epoch") as bar:
        runs = sweep_batch(
            inputs.new_model, inputs.data, batch, epochs=epochs,
            seeds=seeds, config=config, measure=probe, amp=runtime.amp, keep=lambda c: c.save(folder),
            on_seed=lambda run: bar.set_postfix(seed=run.seed, test_acc=f"{100 * run.test_accuracy:.2f}%", phi=f"{run.sharpness:.3g}"),
            on_epoch_done=lambda epoch: bar.update(),
        )
    rows = [asdict(run) for run in runs]
    write_json(out, {
        "batch_size": batch, "epochs": epochs, "epsilon": epsilon, "per_seed": rows,
        "summary": summarize(rows, SWEEP_KEYS),
    })


if __name__ == "__main__":
    run(app)
