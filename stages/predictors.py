"""Stage `predictors`: every solution the pipeline trained (SB and LB runs, every remedy, every sweep point,
every warm start) measured the same way, and each measure's Kendall τ with generalization
(lbgap.experiments.predictors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.experiments.predictors import measure_solutions, predictor_study, solutions_of
from lbgap.measures.subspace import random_subspace
from lbgap.params import noise_scale_defined
from lbgap.remedies.registry import get_strategy
from lbgap.tensors import parameters_of
from stages.options import DataOption, LbModelsOption, PARAMS_DEFAULT, ParamsOption, run, SbModelsOption
from stages.inputs import load_checkpoints, load_inputs
from stages.outputs import stage, write_csv, write_json
from stages.params import clear_errors, load_params

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: DataOption,
    sb_models: SbModelsOption,
    lb_models: LbModelsOption,
    mitigation_models: Annotated[Path, typer.Option(help="Folder of the mitigate stages' checkpoints: <remedy>/ (and <remedy>/sb/).")],
    sweep_models: Annotated[Path, typer.Option(help="Folder of the sweep stages' checkpoints: b<batch>/.")],
    warm_start_models: Annotated[Path, typer.Option(help="warm_start's checkpoints: sb_<epochs>/.")],
    out: Annotated[Path, typer.Option(help="JSON file: τ of every measure with each target, overall and within batch size.")],
    table: Annotated[Path, typer.Option(help="CSV file: one row per solution, its generalization and every measure.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Measure every solution on `curvature.samples` training samples and rank the measures by Kendall's τ."""
    with clear_errors():
        settings = load_params(params)
        curvature, sharpness, runtime = settings.curvature, settings.sharpness, settings.runtime
        noise_scale_defined(runtime.batchnorm, curvature.noise_scale.batches)
        config = CurvatureSettings.of(curvature, sharpness, runtime.eval_chunk, subspace=True)
        # one folder per remedy and per sweep batch size, as dvc.yaml's foreach and matrix name them
        families = [("sb", sb_models, None), ("lb", lb_models, None)]
        for name in settings.remedies:
            families.append((name, mitigation_models / name, None))
            if get_strategy(name).with_small_batch:
                families.append((f"{name} sb", mitigation_models / name / "sb", None))
        families += [("sweep", sweep_models / f"b{b}", f"b{b}") for b in settings.sweep.batches]
        families += [("warm_start", warm_start_models / f"sb_{e}", f"after {e} SB epochs") for e in settings.warm_start.sb_iterates]
        predictors = settings.predictors
        inputs = load_inputs(runtime, data)
        solutions = [s for family, folder, tag in families for s in solutions_of(family, tag, load_checkpoints(folder, inputs.model))]
        subset = training_subset(inputs.data.train, curvature.samples, curvature.seed)

    n = sum(p.numel() for p in parameters_of(inputs.model).values())
    subspace = random_subspace(n, sharpness.subspace_dim, sharpness.seed, inputs.device)
    with tqdm(total=len(solutions), desc="predictors", unit="solution") as bar:
        frame = measure_solutions(
            inputs.model, solutions, inputs.data, subset, config, sharpness.epsilons, subspace,
            sharpness.seed, on_solution=lambda label: (bar.update(), bar.set_postfix_str(label)),
        )
    study = predictor_study(frame, predictors.min_train_accuracy, resamples=predictors.bootstrap,
                            confidence=predictors.confidence, seed=predictors.seed)
    write_csv(table, frame)
    write_json(out, {"samples": len(subset), **study})


if __name__ == "__main__":
    run(app)
