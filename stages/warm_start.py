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
from lbgap.measures.maximizer import maximizer_of
from lbgap.params import reached, run_seed
from lbgap.report.figures import warm_start_figure
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.loop import budget_config
from stages.options import DataOption, FigureOption, PARAMS_DEFAULT, ParamsOption, run, SbIteratesOption
from stages.inputs import kept_iterates, load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import atomic_dir, stage, write_csv, write_figure, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: DataOption,
    sb_iterates: SbIteratesOption,
    out: Annotated[Path, typer.Option(help="CSV file: one row per kept SB iterate.")],
    metrics: Annotated[Path, typer.Option(help="JSON file: the same rows and the settings.")],
    figure: FigureOption,
    models: Annotated[Path, typer.Option(help="Folder for the LB solutions, sb_<epochs>/seed_<seed>.pt (for the predictors stage).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """LB for `warm_start.lb_epochs` from SB run `warm_start.seed`'s iterates every `every` epochs; φ of each."""
    with clear_errors():
        settings = load_params(params)
        config, runtime, sharpness = settings.warm_start, settings.runtime, settings.sharpness
        run_seed(config.seed, "warm_start.seed", settings.seeds)
        reached(config.sb_epochs, "warm_start.sb_epochs", settings.train.max_epochs)
        small_batch, large_batch = settings.small_batch, settings.batch
        train = budget_config(settings.train, runtime.eval_chunk, config.lb_epochs)
        epsilon, maximizer, seed = sharpness.epsilon, maximizer_of(sharpness), sharpness.seed
        inputs = load_inputs(runtime, data, batches={"small_batch": small_batch, "batch": large_batch})
        iterates = kept_iterates(sb_iterates, config.seed, inputs.model, config.sb_iterates, "train@sb", "warm_start.sb_epochs")

    probe = full_space_probe(inputs.data.train, epsilon, chunk=runtime.eval_chunk, maximizer=maximizer, seed=seed)
    x0 = dict(iterates)[0]  # the SB run's initial point (its epoch 0 is always among the iterates)

    def keep(sb_epochs: int, final: dict, at_target: tuple[int, dict] | None) -> None:
        (folder / f"sb_{sb_epochs}").mkdir()
        epoch, weights = at_target or (None, None)
        Checkpoint(x0, final, large_batch, config.seed, weights, epoch).save(folder / f"sb_{sb_epochs}")

    with atomic_dir(models) as folder, tqdm(total=len(iterates) * config.lb_epochs, desc="warm start", unit="LB epoch") as bar:
        points = warm_start(
            inputs.model, inputs.data, iterates, large_batch=large_batch, lb_epochs=config.lb_epochs,
            config=train, seed=config.seed, measure=probe, amp=runtime.amp,
            on_point=lambda p: bar.set_postfix(sb_epochs=p.sb_epochs, lb_test_acc=f"{100 * p.lb_test_accuracy:.2f}%"),
            on_epoch_done=lambda epoch: bar.update(), keep=keep,
        )
    frame = pd.DataFrame([asdict(p) for p in points])
    write_csv(out, frame)
    write_json(metrics, {
        "small_batch": small_batch, "large_batch": large_batch, "lb_epochs": config.lb_epochs,
        "seed": config.seed, "epsilon": epsilon, "points": [asdict(p) for p in points],
    })
    write_figure(figure, warm_start_figure(frame, small_batch, large_batch, config.lb_epochs, config.seed))


if __name__ == "__main__":
    run(app)
