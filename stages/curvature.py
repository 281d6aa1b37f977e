"""Stages `curvature@sb` and `curvature@lb`: Hessian spectrum, trace and density, ε-sensitivity of φ,
adaptive sharpness, PAC-Bayes σ and the gradient noise scale at every seed's solution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.experiments.curvature import curvature_of_solutions
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.params import noise_scale_defined
from lbgap.results import eps_key
from stages.options import DataOption, ModelsOption, PARAMS_DEFAULT, ParamsOption, run
from stages.inputs import load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_csv, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: DataOption,
    models: ModelsOption,
    out: Annotated[Path, typer.Option(help="JSON file: every measure per seed, and mean ± std.")],
    spectrum: Annotated[Path, typer.Option(help="CSV file: SLQ nodes and weights per seed.")],
    epsilons: Annotated[Path, typer.Option(help="CSV file: φ against ε (mean and std over seeds).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Measure every checkpoint in `models` on `curvature.samples` training samples, at its final weights and
    where its training loss first reached train.target_loss."""
    with clear_errors():
        settings = load_params(params)
        curvature, sharpness, runtime = settings.curvature, settings.sharpness, settings.runtime
        noise_scale_defined(runtime.batchnorm, curvature.noise_scale.batches)
        config = CurvatureSettings.of(curvature, sharpness, runtime.eval_chunk)
        inputs = load_inputs(runtime, data, checkpoints={"runs": (models, None)})
        split = training_subset(inputs.data.train, curvature.samples, curvature.seed)
        states = inputs.checkpoints["runs"]

    reached = [(state.seed, state.at_target) for state in states if state.at_target is not None]
    with tqdm(total=3 * (len(states) + len(reached)), desc=f"curvature {models}", unit="part") as bar:
        def on_part(point: str):
            return lambda seed, part: (bar.update(), bar.set_postfix_str(f"seed {seed} {point} {part}"))
        final, nodes = curvature_of_solutions(inputs.model, [(s.seed, s.final) for s in states], split, config, on_part("final"))
        at_target, _ = curvature_of_solutions(inputs.model, reached, split, config, on_part("at target loss"))
    summary = final["summary"]
    write_json(out, {
        "samples": len(split), "batch_size": states[0].batch_size, "epsilon": config.epsilon, **final,
        "at_target_loss": {"target_epoch": {str(s.seed): s.target_epoch for s in states},
                           "not_reached": [s.seed for s in states if s.at_target is None], **at_target},
    })
    write_csv(spectrum, pd.DataFrame(nodes))
    write_csv(epsilons, pd.DataFrame([
        {"epsilon": eps, "phi_mean": summary[f"phi_{eps_key(eps)}"]["mean"], "phi_std": summary[f"phi_{eps_key(eps)}"]["std"]}
        for eps in curvature.epsilons
    ]))


if __name__ == "__main__":
    run(app)
