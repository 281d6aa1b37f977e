"""Stages `mitigate@<strategy>`: LB training with one remedy, then the same sharpness survey and
parametric plot (from the SB solution) as for plain training."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.config import InterpolateParams, MitigationParams, ParamsError
from lbgap.figures import interpolation_figure
from lbgap.landscape import linear_path
from lbgap.mitigation import step_for
from lbgap.reporting import summarize
from lbgap.sharpness import sharpness_survey
from stages.common import (
    stage,
    FINAL_KEYS,
    PARAMS_DEFAULT,
    ParamsOption,
    atomic_dir,
    clear_errors,
    device_for,
    load_checkpoint,
    load_data,
    load_params,
    model_for,
    write_csv,
    write_figure,
    train_seeds,
    write_json,
)

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    strategy: Annotated[str, typer.Argument(help="augmentation, conservative, adversarial or sam.")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs (for the parametric plot).")],
    models: Annotated[Path, typer.Option(help="Folder for this strategy's checkpoints.")],
    out: Annotated[Path, typer.Option(help="JSON file: training metrics and sharpness, per seed and mean ± std.")],
    curve: Annotated[Path, typer.Option(help="CSV file: the parametric plot from SB (α=0) to this strategy (α=1).")],
    figure: Annotated[Path, typer.Option(help="PNG file of that plot.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `mitigation.seeds` LB networks with `strategy`, then measure test accuracy and sharpness."""
    with clear_errors():
        raw = load_params(params)
        config = MitigationParams.parse(raw, strategy)
        path_config = InterpolateParams.parse(raw, seeds_key="mitigation.seeds")
        dataset = load_data(data)
        config.train.check_fits(len(dataset.train))
        model = model_for(config.train.model, dataset)
        try:
            step_for(strategy, config.options, 0, config.data_name)
        except ValueError as error:
            raise ParamsError(f"params: 'mitigation.{strategy}': {error}") from None
        small = load_checkpoint(sb_models, path_config.seed, model)
    batch = config.train.batch_size
    with atomic_dir(models) as folder:
        finals, _, solutions = train_seeds(
            config.train, dataset, config.seeds, folder, strategy,
            step_for_seed=lambda seed: step_for(strategy, config.options, seed, config.data_name),
        )
    dataset = dataset.to(device_for(config.train.model))
    s = config.sharpness
    with tqdm(total=len(solutions) * 2 * len(s.epsilons), desc=f"sharpness {strategy}", unit="run") as bar:
        survey = sharpness_survey(
            model, solutions, dataset.train, s.epsilons, subspace_dim=s.subspace_dim, max_iter=s.max_iter,
            seed=s.seed, chunk=s.eval_chunk, on_run=lambda text: (bar.set_postfix_str(text), bar.update()),
        )
    points = linear_path(
        model, small["final"], solutions[path_config.seed][1], path_config.alphas, dataset, chunk=s.eval_chunk,
        bn_statistics=path_config.bn_statistics,
    )
    title = f"SB (batch {small['batch_size']}) → LB {strategy} (batch {batch}), seed {path_config.seed}"
    figure_of_path = interpolation_figure(points, title, right_label=strategy)
    write_csv(curve, pd.DataFrame([asdict(p) for p in points]))
    write_figure(figure, figure_of_path)
    write_json(out, {
        "strategy": strategy, "options": config.options, "batch_size": batch,
        "train": {"per_seed": finals, "summary": summarize(finals, FINAL_KEYS)}, "sharpness": survey,
    })


if __name__ == "__main__":
    app()
