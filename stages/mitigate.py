"""Stages `mitigate@<strategy>`: LB training with one remedy (lbgap/remedies/), then the same sharpness
survey and parametric plot (from the SB solution) as for plain training (lbgap.experiments.remedy, lbgap.experiments.mitigation)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.experiments.mitigation import epoch_budgets, measure_remedy, measure_size
from lbgap.experiments.remedy import Remedy, train_remedy
from lbgap.measures.maximizer import maximizer_of
from lbgap.params import ParamsError, run_seed
from lbgap.remedies.registry import get_strategy, list_strategies, read_options, with_choice
from lbgap.report.figures import interpolation_figure
from lbgap.train.checkpoint import Iterates, checkpoint_seeds
from lbgap.train.loop import train_config
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, run
from stages.documents import read_json
from stages.inputs import load_checkpoints, load_inputs
from stages.outputs import atomic_dir, stage, write_csv, write_figure, write_json
from stages.progress import EpochProgress
from stages.params import InputError, clear_errors, load_params
from stages.resuming import resume_folder, resume_path

app = typer.Typer(add_completion=False)


def chosen_options(document: dict, strategy: str, path: Path) -> dict:
    """The options tune@<strategy> chose, from its document at `path`; another remedy's document or one
    without a choice is an InputError."""
    if document.get("strategy") != strategy or not isinstance(document.get("chosen"), dict):
        raise InputError(f"{path} is not tune@{strategy}'s choice of options; rebuild it with `dvc repro tune@{strategy}`")
    return document["chosen"]


@app.command()
@stage
def main(
    strategy: Annotated[str, typer.Argument(help=f"A remedy of lbgap/remedies/ ({', '.join(list_strategies())}) with a section "
                                                 "`mitigation.<strategy>`.", metavar="remedy")],
    data: DataOption,
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs (for the parametric plot).")],
    sb_iterates: Annotated[Path, typer.Option(help="Iterates folder of the SB runs (the epoch each stopped at).")],
    tuning: Annotated[Path, typer.Option(help="JSON file of tune@<strategy>: the options chosen on the validation split.")],
    models: Annotated[Path, typer.Option(help="Folder for this strategy's checkpoints (its SB runs in <folder>/sb).")],
    out: Annotated[Path, typer.Option(help="JSON file: training metrics and sharpness, per seed and mean ± std.")],
    curve: Annotated[Path, typer.Option(help="CSV file: the parametric plot from SB (α=0; the strategy's own SB run when it has one) to this strategy (α=1).")],
    figure: Annotated[Path, typer.Option(help="PNG file of that plot.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `mitigation_seeds` LB networks with `strategy` and the options tune@<strategy> chose (and SB ones,
    for a change compared at both batch sizes), then measure test accuracy and sharpness."""
    with clear_errors():
        settings = load_params(params)
        if strategy not in settings.mitigation:
            known = ", ".join(name for name in list_strategies() if name in settings.mitigation)
            raise ParamsError(f"unknown strategy {strategy!r} (a remedy with a section 'mitigation.<name>'; known: {known})")
        declared, runtime, sharpness, path = settings.mitigation[strategy], settings.runtime, settings.sharpness, settings.interpolate
        shared = (settings.data.name, settings.small_batch, settings.batch, settings.mitigation_seeds,
                  train_config(settings.train, runtime.eval_chunk), runtime.amp)
        maximizer, bn_statistics = maximizer_of(sharpness, subspace=True), settings.bn_statistics
        run_seed(path.seed, "interpolate.seed", settings.mitigation_seeds, "mitigation_seeds")
        inputs = load_inputs(runtime, data, batches={"batch": settings.batch, "small_batch": settings.small_batch})
        sb_epochs = {seed: Iterates.load(sb_iterates, seed).stopped_at for seed in checkpoint_seeds(sb_iterates) if seed < settings.mitigation_seeds}
        (plain,) = load_checkpoints(sb_models, inputs.model, path.seed)  # the SB end of the plot, when the remedy has none
        chosen = chosen_options(read_json(tuning), strategy, tuning)
        section = with_choice(declared, chosen, f"{tuning}: chosen ")
        remedy = Remedy(get_strategy(strategy), read_options(strategy, section), *shared)
        try:
            remedy.check(len(inputs.data.train), sb_epochs)
        except ValueError as error:
            raise ParamsError(f"params: 'mitigation.{strategy}': {error}") from None

    key = (strategy, section, settings.data.name, remedy.small_batch, remedy.large_batch, remedy.seeds, runtime, remedy.config, sb_epochs)
    resume = {regime: resume_folder(models, [*key, regime], data, inputs.device, part=regime) for regime in remedy.batches}
    for found in filter(None, (folder.describe() for folder in resume.values())):
        tqdm.write(found, file=sys.stderr)
    with atomic_dir(models) as folder, tqdm(desc=strategy, unit="epoch") as bar:
        progress = EpochProgress(bar, epoch_budgets(remedy, len(inputs.data.train), sb_epochs))
        (folder / "sb").mkdir()
        trained = train_remedy(
            remedy, inputs.new_model, inputs.data, sb_epochs=sb_epochs, resume=resume,
            keep=lambda regime, checkpoint: checkpoint.save(folder if regime == "lb" else folder / "sb"),
            on_epoch=lambda seed, r: (progress(seed, r), bar.set_postfix(seed=seed, batch=r.batch_size, test_acc=f"{100 * r.test_accuracy:.2f}%")),
        )
        progress.close()
        if "sb" not in trained:
            (folder / "sb").rmdir()
    with tqdm(total=measure_size(trained, sharpness.epsilons), desc=f"sharpness {strategy}", unit="maximization") as bar:
        result = measure_remedy(remedy, strategy, trained, plain, inputs.model, inputs.data, sharpness=sharpness, maximizer=maximizer,
                                path=path, bn_statistics=bn_statistics, chunk=runtime.eval_chunk,
                                on_maximization=lambda text: (bar.set_postfix_str(text), bar.update()))
    write_csv(curve, pd.DataFrame([asdict(p) for p in result.path]))
    write_figure(figure, interpolation_figure(result.path, result.title, right_label=strategy))
    write_json(out, {"strategy": strategy, "options": section, "tuned": chosen, **result.document()})
    shutil.rmtree(resume_path(models), ignore_errors=True)


if __name__ == "__main__":
    run(app)
