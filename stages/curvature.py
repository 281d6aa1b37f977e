"""Stages `curvature@sb` and `curvature@lb`: Hessian spectrum, trace and density, ε-sensitivity of φ,
adaptive sharpness, PAC-Bayes σ and the gradient noise scale at every seed's solution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.experiments.curvature import measure_solution
from lbgap.params.measures import CurvatureParams
from lbgap.results import eps_key, summarize
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.outputs import stage, write_csv, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="Checkpoint folder written by a train stage.")],
    out: Annotated[Path, typer.Option(help="JSON file: every measure per seed, and mean ± std.")],
    spectrum: Annotated[Path, typer.Option(help="CSV file: SLQ nodes and weights per seed.")],
    epsilons: Annotated[Path, typer.Option(help="CSV file: φ against ε (mean and std over seeds).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Measure every checkpoint in `models` on `curvature.samples` training samples."""
    with clear_errors():
        config = CurvatureParams.parse(load_params(params), measures_noise=True)
        inputs = load_inputs(config.runtime, data, checkpoints={"runs": (models, None)})
        split = training_subset(inputs.data.train, config.samples, config.seed)
        states = inputs.checkpoints["runs"]

    rows, nodes = [], []
    with tqdm(total=3 * len(states), desc=f"curvature {models}", unit="part") as bar:
        for state in states:
            inputs.model.load_state_dict(state.final)
            values, density = measure_solution(
                inputs.model, split, config, on_part=lambda part, seed=state.seed: (bar.update(), bar.set_postfix_str(f"seed {seed} {part}")),
            )
            rows.append({"seed": state.seed, **values})
            nodes += [{"seed": state.seed, "node": float(t), "weight": float(w)} for t, w in zip(density.nodes, density.weights)]
    keys = [k for k in rows[0] if k != "seed"]
    summary = summarize(rows, keys)
    write_json(out, {
        "samples": len(split), "batch_size": states[0].batch_size, "epsilon": config.epsilon,
        "per_seed": rows, "summary": summary,
    })
    write_csv(spectrum, pd.DataFrame(nodes))
    write_csv(epsilons, pd.DataFrame([
        {"epsilon": eps, "phi_mean": summary[f"phi_{eps_key(eps)}"]["mean"], "phi_std": summary[f"phi_{eps_key(eps)}"]["std"]}
        for eps in config.epsilons
    ]))


if __name__ == "__main__":
    app()
