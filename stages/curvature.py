"""Stages `curvature@sb` and `curvature@lb`: Hessian spectrum, trace and density, ε-sensitivity of φ,
adaptive sharpness, PAC-Bayes σ and the gradient noise scale at every seed's solution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.curvature import measure_solution, training_subset
from lbgap.curvature_config import CurvatureParams, NoiseScaleParams
from lbgap.reporting import eps_key, summarize
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    ParamsOption,
    checkpoint_seeds,
    clear_errors,
    device_for,
    load_checkpoint,
    load_data,
    load_params,
    model_for,
    write_csv,
    write_json,
)

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
        raw = load_params(params)
        config = CurvatureParams.parse(raw)
        NoiseScaleParams.parse(raw)  # refuses `batchnorm: batch` unless the noise scale is skipped
        dataset = load_data(data)
        model = model_for(config.model, dataset)
        states = [load_checkpoint(models, seed, model) for seed in checkpoint_seeds(models)]
        split = training_subset(dataset.train, config.samples, config.seed).to(device_for(config.model))

    rows, nodes = [], []
    with tqdm(total=3 * len(states), desc=f"curvature {models}", unit="part") as bar:
        for state in states:
            model.load_state_dict(state["final"])
            values, density = measure_solution(
                model, split, config, on_part=lambda part, seed=state["seed"]: (bar.update(), bar.set_postfix_str(f"seed {seed} {part}")),
            )
            rows.append({"seed": state["seed"], **values})
            nodes += [{"seed": state["seed"], "node": float(t), "weight": float(w)} for t, w in zip(density.nodes, density.weights)]
    keys = [k for k in rows[0] if k != "seed"]
    summary = summarize(rows, keys)
    write_json(out, {
        "samples": len(split), "batch_size": states[0]["batch_size"], "epsilon": config.epsilon,
        "per_seed": rows, "summary": summary,
    })
    write_csv(spectrum, pd.DataFrame(nodes))
    write_csv(epsilons, pd.DataFrame([
        {"epsilon": eps, "phi_mean": summary[f"phi_{eps_key(eps)}"]["mean"], "phi_std": summary[f"phi_{eps_key(eps)}"]["std"]}
        for eps in config.epsilons
    ]))


if __name__ == "__main__":
    app()
