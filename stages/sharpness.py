"""Stages `sharpness_sb` and `sharpness_lb`: the paper's Metric 2.1 at every seed's solution."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.config import SharpnessParams
from lbgap.reporting import eps_key, summarize
from lbgap.sharpness import random_subspace, sharpness_of_model
from lbgap.tensors import flatten, parameters_of
from stages.common import (
    PARAMS_DEFAULT,
    ParamsOption,
    checkpoint_seeds,
    clear_errors,
    load_checkpoint,
    load_data,
    load_params,
    model_for,
    write_json,
)

app = typer.Typer(add_completion=False)


@app.command()
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    models: Annotated[Path, typer.Option(help="Checkpoint folder written by a train stage.")],
    out: Annotated[Path, typer.Option(help="JSON file for per-seed values and mean ± std.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """φ(ε) in the full space (A = I) and in a random p-dimensional subspace, for each ε and seed."""
    with clear_errors():
        config = SharpnessParams.parse(load_params(params))
        dataset = load_data(data)
        states = [load_checkpoint(models, seed) for seed in checkpoint_seeds(models)]
        model = model_for(config.model, dataset)

    n = flatten(parameters_of(model)).numel()
    # One subspace for every seed and regime, so SB and LB are measured along the same directions.
    spaces = {"full": None, "subspace": random_subspace(n, config.subspace_dim, config.seed)}
    bar = tqdm(total=len(states) * len(spaces) * len(config.epsilons), desc=f"sharpness {models}", unit="run")
    results: dict[str, dict[str, list[dict]]] = {space: {eps_key(e): [] for e in config.epsilons} for space in spaces}
    for state in states:
        model.load_state_dict(state["final"])
        for space, A in spaces.items():
            for eps in config.epsilons:
                bar.set_postfix(seed=state["seed"], space=space, eps=f"{eps:g}")
                value = sharpness_of_model(
                    model, dataset.train, eps, A, chunk=config.eval_chunk, max_iter=config.max_iter,
                    seed=config.seed + state["seed"],
                )
                bar.update()
                results[space][eps_key(eps)].append({"seed": state["seed"], **asdict(value)})
    bar.close()
    summary = {
        space: {key: summarize(rows, ["phi", "iterations", "evaluations"]) for key, rows in by_eps.items()}
        for space, by_eps in results.items()
    }
    write_json(out, {"parameters": n, "subspace_dim": config.subspace_dim, "per_seed": results, "summary": summary})


if __name__ == "__main__":
    app()
