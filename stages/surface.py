"""Stage `surface`: filter-normalized 2-D loss surfaces around one SB and one LB solution, and the
plane through x0, x_SB and x_LB (beyond the paper; Li et al. 2018)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from tqdm import tqdm

from lbgap.data import training_subset
from lbgap.measures.surface import surface_around, surface_through
from lbgap.params import run_seed
from lbgap.report.curvature_figures import surface_figure
from stages.options import DataOption, LbModelsOption, PARAMS_DEFAULT, ParamsOption, run, SbModelsOption
from stages.inputs import load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_csv, write_figure

app = typer.Typer(add_completion=False)


def _frame(coordinates: list[float], loss: np.ndarray, accuracy: np.ndarray, kind: str) -> pd.DataFrame:
    a, b = np.meshgrid(coordinates, coordinates, indexing="ij")
    return pd.DataFrame({"surface": kind, "a": a.ravel(), "b": b.ravel(), "loss": loss.ravel(), "accuracy": accuracy.ravel()})


@app.command()
@stage
def main(
    data: DataOption,
    sb_models: SbModelsOption,
    lb_models: LbModelsOption,
    out: Annotated[Path, typer.Option(help="CSV file: surface, a, b, loss, accuracy.")],
    figure: Annotated[Path, typer.Option(help="PNG file: the three contour plots.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Loss on a grid around each solution (two filter-normalized directions) and on the x0–SB–LB plane."""
    with clear_errors():
        settings = load_params(params)
        config, runtime, bn_statistics = settings.surface, settings.runtime, settings.bn_statistics
        samples, seed = settings.curvature.samples, settings.curvature.seed  # the subset and directions of every curvature measure
        run_seed(config.seed, "surface.seed", settings.seeds)
        pair = {"sb": (sb_models, config.seed), "lb": (lb_models, config.seed)}
        inputs = load_inputs(runtime, data, checkpoints=pair)
        split = training_subset(inputs.data.train, samples, seed)

    around = config.axis(-config.span, config.span)
    plane = config.axis(config.plane_min, config.plane_max)
    chunk = runtime.eval_chunk
    frames, grids = [], {}
    (small,), (large,) = inputs.checkpoints["sb"], inputs.checkpoints["lb"]
    with tqdm(total=3 * config.points**2, desc="surfaces", unit="point") as bar:
        for kind, (checkpoint,) in inputs.checkpoints.items():
            inputs.model.load_state_dict(checkpoint.final)
            loss, accuracy = surface_around(
                inputs.model, split, around, seed=seed, chunk=chunk, on_point=bar.update,
                bn_statistics=bn_statistics,
            )
            frames.append(_frame(around, loss, accuracy, kind))
            grids[kind] = loss
        loss, accuracy = surface_through(
            inputs.model, small.x0, small.final, large.final, split, plane, chunk=chunk, on_point=bar.update,
            bn_statistics=bn_statistics,
        )
        frames.append(_frame(plane, loss, accuracy, "plane"))
        grids["plane"] = loss
    batches = {"sb": small.batch_size, "lb": large.batch_size}
    write_csv(out, pd.concat(frames, ignore_index=True))
    write_figure(figure, surface_figure(around, plane, grids, batches, bn_statistics))


if __name__ == "__main__":
    run(app)
