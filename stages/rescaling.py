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
from lbgap.params import ParamsError, run_seed
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.results import eta_key
from stages.options import DataOption, LbModelsOption, PARAMS_DEFAULT, ParamsOption, run, SbModelsOption
from stages.inputs import load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_json

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: DataOption,
    sb_models: SbModelsOption,
    lb_models: LbModelsOption,
    out: Annotated[Path, typer.Option(help="JSON file: each measure before and after, and the prediction change.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Rescale block `rescaling.block` by `rescaling.factor`; compare φ, λ_max and adaptive φ."""
    with clear_errors():
        settings = load_params(params)
        config, sharpness, runtime = settings.rescaling, settings.sharpness, settings.runtime
        curvature = CurvatureSettings.of(settings.curvature, sharpness, runtime.eval_chunk)
        run_seed(config.seed, "rescaling.seed", settings.seeds)
        pair = {"sb": (sb_models, config.seed), "lb": (lb_models, config.seed)}
        inputs = load_inputs(runtime, data, checkpoints=pair)
        try:  # refuse a block the network lacks before any work (the weights are loaded later)
            dinh_rescale(inputs.model, config.factor, config.block)
        except ValueError as error:
            raise ParamsError(f"params: 'rescaling.block': {error}") from None
        split = training_subset(inputs.data.train, curvature.curvature.samples, curvature.curvature.seed)

    document = {"factor": config.factor, "block": config.block, "seed": config.seed, "samples": len(split)}
    with tqdm(total=2, desc="rescaling", unit="solution") as bar:
        for regime, (state,) in inputs.checkpoints.items():
            inputs.model.load_state_dict(state.final)
            document[regime] = rescaling_effect(inputs.model, split, curvature, config.factor, config.block)
            bar.update()
    document["adaptive_keys"] = [f"adaptive_{eta_key(eta)}" for eta in curvature.curvature.adaptive_eta]
    write_json(out, document)


if __name__ == "__main__":
    run(app)
