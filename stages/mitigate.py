"""Stages `mitigate@<strategy>`: LB training with one remedy (lbgap/remedies/), then the same sharpness
survey and parametric plot (from the SB solution) as for plain training."""

from __future__ import annotations

import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.experiments.survey import survey_of_runs, survey_size
from lbgap.measures.landscape import linear_path
from lbgap.params.experiments import MitigationParams
from lbgap.params.measures import InterpolateParams
from lbgap.report.figures import interpolation_figure
from lbgap.results import summarize
from lbgap.train.checkpoint import Iterates, checkpoint_seeds
from lbgap.train.resume import ResumeFolder
from lbgap.train.seeds import FINAL_KEYS, train_seeds
from lbgap.params.read import ParamsError
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.resuming import resume_folder, resume_path
from stages.outputs import atomic_dir, stage, write_csv, write_figure, write_json

app = typer.Typer(add_completion=False)


SUMMARY_KEYS = [*FINAL_KEYS, "updates", "samples", "seconds"]


def _stopped_at(folder: Path, seeds: int) -> dict[int, int]:
    """Seed → the epoch train@sb's run of that seed stopped at (seeds it did not run are left out)."""
    return {seed: Iterates.load(folder, seed).stopped_at for seed in checkpoint_seeds(folder) if seed < seeds}


def _train(inputs, config: MitigationParams, batch_size: int, folder: Path, sb_epochs: dict[int, int], bar,
           resume: ResumeFolder) -> tuple[list, list]:
    """Train the remedy's seeds at `batch_size` into `folder`: (per-seed final metrics with updates, samples
    and wall seconds; the Checkpoint of each seed)."""
    lb, n = config.train, len(inputs.data.train)
    finals, solutions = [], []
    runs = train_seeds(
        inputs.new_model, inputs.data, batch_size=batch_size, seeds=lb.seeds, config=lb.train, amp=lb.runtime.amp,
        recipe_for_seed=lambda seed: config.recipe(seed, batch_size, train_size=n, sb_epochs=sb_epochs.get(seed)),
        on_epoch=lambda seed, r: (bar.update(), bar.set_postfix(seed=seed, batch=r.batch_size, test_acc=f"{r.test_accuracy:.4f}")),
        resume=resume,
    )
    for checkpoint, _, final, _ in runs:
        finals.append(final)
        checkpoint.save(folder)
        solutions.append(checkpoint)
    return finals, solutions


def _survey(inputs, config: MitigationParams, solutions: list, label: str) -> dict:
    s, lb = config.sharpness, config.train
    with tqdm(total=survey_size(solutions, s.epsilons), desc=f"sharpness {label}", unit="maximization") as bar:
        return survey_of_runs(
            inputs.model, solutions, inputs.data.train, s.epsilons, subspace_dim=s.subspace_dim, maximizer=s.maximizer,
            seed=s.seed, chunk=lb.runtime.eval_chunk, on_run=lambda text: (bar.set_postfix_str(text), bar.update()),
        )


@app.command()
@stage
def main(
    strategy: Annotated[str, typer.Argument(help="A remedy of lbgap/remedies/ with a section `mitigation.<strategy>`.")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs (for the parametric plot).")],
    sb_iterates: Annotated[Path, typer.Option(help="Iterates folder of the SB runs (the epoch each stopped at).")],
    models: Annotated[Path, typer.Option(help="Folder for this strategy's checkpoints (its SB runs in <folder>/sb).")],
    out: Annotated[Path, typer.Option(help="JSON file: training metrics and sharpness, per seed and mean ± std.")],
    curve: Annotated[Path, typer.Option(help="CSV file: the parametric plot from SB (α=0; the strategy's own SB run when it has one) to this strategy (α=1).")],
    figure: Annotated[Path, typer.Option(help="PNG file of that plot.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `mitigation_seeds` LB networks with `strategy` (and SB ones, for a change compared at both batch
    sizes), then measure test accuracy and sharpness."""
    with clear_errors():
        raw = load_params(params)
        config, path = MitigationParams.parse(raw, strategy), InterpolateParams.parse(raw, seeds_key="mitigation_seeds")
        lb = config.train
        inputs = load_inputs(
            lb.runtime, data, batches={lb.batch_key: lb.batch_size, "small_batch": config.small_batch},
            checkpoints={"sb": (sb_models, path.seed)},
        )
        sb_epochs = _stopped_at(sb_iterates, lb.seeds)
        batches = {"lb": lb.batch_size} | ({"sb": config.small_batch} if config.strategy.with_small_batch else {})
        for seed in range(lb.seeds):  # refuse what only the real run sizes reveal (a run with no SB run to match)
            for batch_size in batches.values():
                try:
                    config.recipe(seed, batch_size, train_size=len(inputs.data.train), sb_epochs=sb_epochs.get(seed))
                except ValueError as error:
                    raise ParamsError(f"params: 'mitigation.{strategy}': {error}") from None

    trained = {}
    settings = (strategy, config.raw_options, config.train, config.small_batch, config.data_name, sb_epochs)
    resume = {regime: resume_folder(models, [*settings, regime], data, inputs.device, part=regime) for regime in batches}
    for found in filter(None, (folder.describe() for folder in resume.values())):
        tqdm.write(found, file=sys.stderr)
    with atomic_dir(models) as folder, tqdm(total=len(batches) * lb.seeds * lb.train.max_epochs, desc=strategy, unit="epoch") as bar:
        for regime, batch_size in batches.items():
            where = folder if regime == "lb" else folder / "sb"
            where.mkdir(exist_ok=True)
            trained[regime] = _train(inputs, config, batch_size, where, sb_epochs, bar, resume[regime])
    results = {
        regime: {"batch_size": batch_size, "train": {"per_seed": trained[regime][0], "summary": summarize(trained[regime][0], SUMMARY_KEYS)},
                 "sharpness": _survey(inputs, config, trained[regime][1], f"{strategy} {regime}")}
        for regime, batch_size in batches.items()
    }
    # from the remedy's own SB run when it has one (an optimizer, an initialization), else from plain SB
    (plain,) = inputs.checkpoints["sb"]
    small, label = (trained["sb"][1][path.seed].final, f"SB {strategy}") if "sb" in trained else (plain.final, "SB")
    points = linear_path(
        inputs.model, small, trained["lb"][1][path.seed].final, path.alphas, inputs.data, chunk=lb.runtime.eval_chunk,
        bn_statistics=path.bn_statistics,
    )
    title = f"{label} (batch {config.small_batch}) → LB {strategy} (batch {lb.batch_size}), seed {path.seed}"
    write_csv(curve, pd.DataFrame([asdict(p) for p in points]))
    write_figure(figure, interpolation_figure(points, title, right_label=strategy))
    write_json(out, {
        "strategy": strategy, "options": config.raw_options, **results.pop("lb"),
        **({"small_batch": results["sb"]} if "sb" in results else {}),
    })
    shutil.rmtree(resume_path(models), ignore_errors=True)


if __name__ == "__main__":
    app()
