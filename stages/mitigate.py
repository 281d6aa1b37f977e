"""Stages `mitigate@<strategy>`: LB training with one remedy (lbgap/remedies/), then the same sharpness
survey and parametric plot (from the SB solution) as for plain training."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.experiments.survey import sharpness_survey
from lbgap.measures.landscape import linear_path
from lbgap.params.experiments import MitigationParams
from lbgap.params.measures import InterpolateParams
from lbgap.report.figures import interpolation_figure
from lbgap.results import summarize
from lbgap.train.seeds import FINAL_KEYS, train_seeds
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.outputs import atomic_dir, stage, write_csv, write_figure, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    strategy: Annotated[str, typer.Argument(help="A remedy of lbgap/remedies/ with a section `mitigation.<strategy>`.")],
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs (for the parametric plot).")],
    models: Annotated[Path, typer.Option(help="Folder for this strategy's checkpoints.")],
    out: Annotated[Path, typer.Option(help="JSON file: training metrics and sharpness, per seed and mean ± std.")],
    curve: Annotated[Path, typer.Option(help="CSV file: the parametric plot from SB (α=0) to this strategy (α=1).")],
    figure: Annotated[Path, typer.Option(help="PNG file of that plot.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train `mitigation_seeds` LB networks with `strategy`, then measure test accuracy and sharpness."""
    with clear_errors():
        raw = load_params(params)
        config, path = MitigationParams.parse(raw, strategy), InterpolateParams.parse(raw, seeds_key="mitigation_seeds")
        lb = config.train
        inputs = load_inputs(lb.runtime, data, batches={lb.batch_key: lb.batch_size}, checkpoints={"sb": (sb_models, path.seed)})

    finals, solutions = [], []
    with atomic_dir(models) as folder, tqdm(total=lb.seeds * lb.train.max_epochs, desc=strategy, unit="epoch") as bar:
        for checkpoint, _, final, _ in train_seeds(
            inputs.new_model, inputs.data, batch_size=lb.batch_size, seeds=lb.seeds, config=lb.train, amp=lb.runtime.amp,
            step_for_seed=config.step_for_seed, on_epoch=lambda seed, r: (bar.update(), bar.set_postfix(seed=seed, test_acc=f"{r.test_accuracy:.4f}")),
        ):
            checkpoint.save(folder)
            finals.append(final)
            solutions.append((checkpoint.seed, checkpoint.final))
    s = config.sharpness
    with tqdm(total=len(solutions) * 2 * len(s.epsilons), desc=f"sharpness {strategy}", unit="run") as bar:
        survey = sharpness_survey(
            inputs.model, solutions, inputs.data.train, s.epsilons, subspace_dim=s.subspace_dim, max_iter=s.max_iter,
            seed=s.seed, chunk=lb.runtime.eval_chunk, on_run=lambda text: (bar.set_postfix_str(text), bar.update()),
        )
    (small,) = inputs.checkpoints["sb"]
    points = linear_path(
        inputs.model, small.final, solutions[path.seed][1], path.alphas, inputs.data, chunk=lb.runtime.eval_chunk,
        bn_statistics=path.bn_statistics,
    )
    title = f"SB (batch {small.batch_size}) → LB {strategy} (batch {lb.batch_size}), seed {path.seed}"
    write_csv(curve, pd.DataFrame([asdict(p) for p in points]))
    write_figure(figure, interpolation_figure(points, title, right_label=strategy))
    write_json(out, {
        "strategy": strategy, "options": config.raw_options, "batch_size": lb.batch_size,
        "train": {"per_seed": finals, "summary": summarize(finals, FINAL_KEYS)}, "sharpness": survey,
    })


if __name__ == "__main__":
    app()
