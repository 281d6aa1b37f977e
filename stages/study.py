"""Stages `study@<batch size>`: the designed predictor study's configurations at one batch size — every
combination of `study`'s learning rates, widths, depths, weight decays and dropouts, `study.seeds` runs
each, the `mlp` network trained with SGD with momentum until its training loss first reaches
`train.target_loss`, and measured there (lbgap.experiments.study)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.data import training_subset
from stages.processes import device_for
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.experiments.study import FIRST_SEED, configurations, study_cell
from lbgap.models import build_model
from lbgap.params import noise_scale_defined
from stages.inputs import load_inputs
from stages.options import DataOption, PARAMS_DEFAULT, ParamsOption, run
from stages.params import check_listed, clear_errors, load_params
from stages.outputs import stage, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    batch: Annotated[int, typer.Argument(help="The batch size, one of `study.batch_sizes`.")],
    data: DataOption,
    out: Annotated[Path, typer.Option(help="JSON file: one row per run (its configuration, ending, accuracies and measures).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Train this batch size's configurations to the target training loss and measure each run there."""
    with clear_errors():
        check_listed(params, "study.batch_sizes", batch, "the study's batch size")
        settings = load_params(params)
        study, runtime, curvature = settings.study, settings.runtime, settings.curvature
        points = configurations({"batch_size": [batch], "learning_rate": study.learning_rates, "width": study.widths,
                                 "depth": study.depths, "weight_decay": study.weight_decays, "dropout": study.dropouts})
        cell = {"epsilons": settings.sharpness.epsilons, "subspace_dim": settings.sharpness.subspace_dim,
                "target_loss": settings.train.target_loss, "max_epochs": study.max_epochs, "momentum": study.momentum,
                "milestone": study.milestone}
        seeds = study.seeds
        noise_scale_defined(runtime.batchnorm, curvature.noise_scale.batches)
        measures = CurvatureSettings.of(curvature, settings.sharpness, runtime.eval_chunk, subspace=True)
        inputs = load_inputs(runtime, data, batches={"'study.batch_sizes' entry": batch})
        subset = training_subset(inputs.data.train, curvature.samples, curvature.seed)
    dataset = inputs.data

    def network(width: int, depth: int, seed: int):
        return build_model("mlp", input_shape=dataset.input_shape, num_classes=dataset.num_classes, seed=seed,
                           options={"width": width, "depth": depth}, batchnorm=runtime.batchnorm).to(device_for(runtime))

    with tqdm(total=len(points) * seeds, desc=f"study batch {batch}", unit="run") as bar:
        rows = study_cell(
            points, seeds, network, dataset, subset, measures, **cell,
            on_run=lambda row: (bar.update(), bar.set_postfix(lr=row["learning_rate"], steps=row["steps"], reached=row["reached"])),
        )
    write_json(out, {"batch_size": batch, "target_loss": cell["target_loss"], "first_seed": FIRST_SEED,
                     "samples": len(subset), "test_samples": len(dataset.test), "rows": rows})


if __name__ == "__main__":
    run(app)
