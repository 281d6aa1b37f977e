"""Stage `rescaling`: Dinh et al.'s function-preserving rescaling applied to one SB and one LB
solution, and how each measure responds (beyond the paper)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.experiments.rescaling import rescaling_effect
from lbgap.measures.flatness import dinh_rescale
from lbgap.params import ParamsError
from lbgap.params.measures import RescalingParams
from lbgap.results import eta_key
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.outputs import stage, write_json

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
        pair = {"sb": (sb_models, config.seed), "lb": (lb_models, config.seed)}
        inputs = load_inputs(config.curvature.runtime, data, checkpoints=pair)
        try:  # refuse a block the network lacks before any work (the weights are loaded later)
            dinh_rescale(inputs.model, config.factor, config.block)
        except ValueError as error:
            raise ParamsError(f"params: 'rescaling.block': {error}") from None
        split = training_subset(inputs.data.train, config.curvature.samples, config.curvature.seed)

    document = {"factor": config.factor, "block": config.block, "seed": config.seed, "samples": len(split)}
    with tqdm(total=2, desc="rescaling", unit="solution") as bar:
        for regime, (state,) in inputs.checkpoints.items():
            inputs.model.load_state_dict(state.final)
            document[regime] = rescaling_effect(inputs.model, split, config.curvature, config.factor, config.block)
            bar.update()
    document["adaptive_keys"] = [f"adaptive_{eta_key(eta)}" for eta in config.curvature.adaptive_etas]
    write_json(out, document)


if __name__ == "__main__":
    app()
