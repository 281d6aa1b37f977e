"""Stage `rescaling`: Dinh et al.'s function-preserving rescaling applied to one SB and one LB
solution, and how each measure responds (beyond the paper)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.curvature import eta_key, training_subset
from lbgap.curvature_config import RescalingParams
from lbgap.flatness import dinh_rescale
from lbgap.rescaling import rescaling_effect
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    InputError,
    ParamsOption,
    clear_errors,
    device_for,
    load_checkpoint,
    load_data,
    load_params,
    model_for,
    write_json,
)

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs.")],
    lb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the LB runs.")],
    out: Annotated[Path, typer.Option(help="JSON file: each measure before and after, and the prediction change.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Rescale block `rescaling.block` by `rescaling.factor`; compare φ, λ_max and adaptive φ."""
    with clear_errors():
        config = RescalingParams.parse(load_params(params))
        dataset = load_data(data)
        model = model_for(config.curvature.model, dataset)
        states = {"sb": load_checkpoint(sb_models, config.seed, model), "lb": load_checkpoint(lb_models, config.seed, model)}
        try:  # refuse a block the network lacks before any work (the weights are loaded later)
            dinh_rescale(model, config.factor, config.block)
        except ValueError as error:
            raise InputError(f"params: 'rescaling.block': {error}") from None
        split = training_subset(dataset.train, config.curvature.samples, config.curvature.seed).to(device_for(config.curvature.model))

    document = {"factor": config.factor, "block": config.block, "seed": config.seed, "samples": len(split)}
    with tqdm(total=2, desc="rescaling", unit="solution") as bar:
        for regime, state in states.items():
            model.load_state_dict(state["final"])
            document[regime] = rescaling_effect(model, split, config.curvature, config.factor, config.block)
            bar.update()
    document["adaptive_keys"] = [f"adaptive_{eta_key(eta)}" for eta in config.curvature.adaptive_etas]
    write_json(out, document)


if __name__ == "__main__":
    app()
