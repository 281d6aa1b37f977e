"""Stages `tune@<strategy>`: choose a remedy's options from its grid (`tuning.grids.<strategy>`) by
validation accuracy, before mitigate@<strategy> trains and tests with the choice. The stage reads the
training and validation splits only: the test split stays unread until the final evaluation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.experiments.remedy import Remedy
from lbgap.experiments.tuning import FIRST_SEED, tune_remedy, tuning_sb_epochs
from lbgap.params import ParamsError
from lbgap.remedies.registry import get_strategy, grid_points, list_strategies, read_options, with_choice
from lbgap.train.checkpoint import CheckpointError, Iterates
from lbgap.train.loop import train_config
from stages.inputs import load_inputs
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, run
from stages.outputs import stage, write_json
from stages.params import InputError, clear_errors, load_params
from stages.progress import EpochProgress

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    strategy: Annotated[str, typer.Argument(help=f"A remedy of lbgap/remedies/ ({', '.join(list_strategies())}) with a grid "
                                                 "`tuning.grids.<strategy>`.", metavar="remedy")],
    data: DataOption,
    sb_iterates: Annotated[Path, typer.Option(help="Iterates folder of the SB runs (the epoch each stopped at, for remedies that match it).")],
    out: Annotated[Path, typer.Option(help="JSON file: every grid point's validation accuracy and the chosen options.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `tuning.seeds` LB networks with `strategy` at every point of its grid; keep the options with the
    best mean validation accuracy."""
    with clear_errors():
        settings = load_params(params)
        if strategy not in settings.tuning.grids:
            known = ", ".join(name for name in list_strategies() if name in settings.tuning.grids)
            raise ParamsError(f"unknown strategy {strategy!r} (a remedy with a grid 'tuning.grids.<name>'; known: {known})")
        grid, section, runtime, seeds = settings.tuning.grids[strategy], settings.mitigation[strategy], settings.runtime, settings.tuning.seeds
        config = train_config(settings.train, runtime.eval_chunk)
        shared = (settings.data.name, settings.small_batch, settings.batch, seeds, config, runtime.amp)

        def remedy_at(point) -> Remedy:
            options = read_options(strategy, with_choice(section, point, f"tuning.grids.{strategy}."))
            return Remedy(get_strategy(strategy), options, *shared)

        if not grid:  # nothing to choose: no data, no training
            tqdm.write(f"{strategy}: 'tuning.grids.{strategy}' is empty: its options as declared", file=sys.stderr)
            write_json(out, {"strategy": strategy, "grid": {}, "trials": [], "chosen": {}})
            return
        points = grid_points(grid)
        inputs = load_inputs(runtime, data, batches={"batch": settings.batch}, held_out="validation")
        try:
            sb_epochs = tuning_sb_epochs(Iterates.load(sb_iterates, 0).stopped_at, seeds)
        except CheckpointError as error:
            raise InputError(f"{error} (the SB run whose update count remedies may match; run `dvc repro train@sb`)") from None
        for point in points:
            try:
                remedy_at(point).check(len(inputs.data.train), sb_epochs, FIRST_SEED)
            except ValueError as error:
                raise ParamsError(f"params: 'tuning.grids.{strategy}' point {point}: {error}") from None

    with tqdm(desc=f"tune {strategy}", unit="epoch") as bar:
        budgets = [remedy_at(point).recipe(seed, "lb", train_size=len(inputs.data.train), sb_epochs=epochs).max_epochs
                   or config.max_epochs for point in points for seed, epochs in sb_epochs.items()]
        progress = EpochProgress(bar, budgets)
        tuned = tune_remedy(
            remedy_at, points, inputs.new_model, inputs.data, sb_epochs=sb_epochs,
            on_epoch=lambda seed, r: (progress(seed, r), bar.set_postfix(seed=seed, val_acc=f"{100 * r.test_accuracy:.2f}%")),
        )
        progress.close()
    write_json(out, {"strategy": strategy, "grid": grid, "seeds": sorted(sb_epochs), "validation_samples": len(inputs.data.test), **tuned})


if __name__ == "__main__":
    run(app)
