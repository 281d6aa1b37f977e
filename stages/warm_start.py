"""Stage `warm_start`: LB training warm-started from SB iterates ("piggybacking", paper §4)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.experiments.warm_start import warm_start
from lbgap.measures.sharpness import full_space_probe
from lbgap.params.experiments import WarmStartParams
from lbgap.report.figures import warm_start_figure
from lbgap.train.checkpoint import Checkpoint
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, kept_iterates, load_inputs, load_params
from stages.outputs import atomic_dir, stage, write_csv, write_figure, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_iterates: Annotated[Path, typer.Option(help="Iterates folder of the SB runs (written by train@sb).")],
    out: Annotated[Path, typer.Option(help="CSV file: one row per kept SB iterate.")],
    metrics: Annotated[Path, typer.Option(help="JSON file: the same rows and the settings.")],
    figure: Annotated[Path, typer.Option(help="PNG file for the plot.")],
    models: Annotated[Path, typer.Option(help="Folder for the LB solutions, sb_<epochs>/seed_<seed>.pt (for the predictors stage).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """LB for `warm_start.lb_epochs` from SB run `warm_start.seed`'s iterates every `every` epochs; φ of each."""
    with clear_errors():
        config = WarmStartParams.parse(load_params(params))
        batches = {"small_batch": config.small_batch, "batch": config.large_batch}
        inputs = load_inputs(config.runtime, data, batches=batches)
        iterates = kept_iterates(sb_iterates, config.seed, inputs.model, config.sb_iterates, "train@sb", "warm_start.sb_epochs")

    probe = full_space_probe(
        inputs.data.train, config.probe.epsilon, chunk=config.train.eval_chunk, maximizer=config.probe.maximizer,
        seed=config.probe.seed,
    )
    x0 = dict(iterates)[0]  # the SB run's initial point (its epoch 0 is always among the iterates)

    def keep(sb_epochs: int, final: dict, at_target: tuple[int, dict] | None) -> None:
        (folder / f"sb_{sb_epochs}").mkdir()
        epoch, weights = at_target or (None, None)
        Checkpoint(x0, final, config.large_batch, config.seed, weights, epoch).save(folder / f"sb_{sb_epochs}")

    with atomic_dir(models) as folder, tqdm(total=len(iterates), desc="warm start", unit="LB run") as bar:
        points = warm_start(
            inputs.model, inputs.data, iterates, large_batch=config.large_batch, lb_epochs=config.lb_epochs,
            config=config.train, seed=config.seed, measure=probe, amp=config.runtime.amp,
            on_point=lambda p: (bar.update(), bar.set_postfix(sb_epochs=p.sb_epochs, lb_test_acc=f"{p.lb_test_accuracy:.4f}")),
            keep=keep,
        )
    frame = pd.DataFrame([asdict(p) for p in points])
    write_csv(out, frame)
    write_json(metrics, {
        "small_batch": config.small_batch, "large_batch": config.large_batch, "lb_epochs": config.lb_epochs,
        "seed": config.seed, "epsilon": config.probe.epsilon, "points": [asdict(p) for p in points],
    })
    write_figure(figure, warm_start_figure(frame, config.small_batch, config.large_batch, config.lb_epochs))


if __name__ == "__main__":
    app()
