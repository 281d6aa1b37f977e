"""Stage `surface`: filter-normalized 2-D loss surfaces around one SB and one LB solution, and the
plane through x0, x_SB and x_LB (beyond the paper; Li et al. 2018)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from tqdm import tqdm

from lbgap.curvature import training_subset
from lbgap.curvature_config import SurfaceParams
from lbgap.curvature_figures import surface_figure
from lbgap.surface import surface_around, surface_through
from stages.common import (
    stage,
    PARAMS_DEFAULT,
    ParamsOption,
    clear_errors,
    device_for,
    load_checkpoint,
    load_data,
    load_params,
    model_for,
    write_csv,
    write_figure,
)

app = typer.Typer(add_completion=False)


def _frame(coordinates: list[float], loss: np.ndarray, accuracy: np.ndarray, kind: str) -> pd.DataFrame:
    a, b = np.meshgrid(coordinates, coordinates, indexing="ij")
    return pd.DataFrame({"surface": kind, "a": a.ravel(), "b": b.ravel(), "loss": loss.ravel(), "accuracy": accuracy.ravel()})


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs.")],
    lb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the LB runs.")],
    out: Annotated[Path, typer.Option(help="CSV file: surface, a, b, loss, accuracy.")],
    figure: Annotated[Path, typer.Option(help="PNG file: the three contour plots.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Loss on a grid around each solution (two filter-normalized directions) and on the x0–SB–LB plane."""
    with clear_errors():
        config = SurfaceParams.parse(load_params(params))
        dataset = load_data(data)
        model = model_for(config.curvature.model, dataset)
        small, large = load_checkpoint(sb_models, config.seed, model), load_checkpoint(lb_models, config.seed, model)
        split = training_subset(dataset.train, config.curvature.samples, config.curvature.seed).to(device_for(config.curvature.model))

    around = config.axis(-config.span, config.span)
    plane = config.axis(config.plane_min, config.plane_max)
    chunk = config.curvature.eval_chunk
    frames, grids = [], {}
    with tqdm(total=3 * config.points**2, desc="surfaces", unit="point") as bar:
        for kind, checkpoint in (("sb", small), ("lb", large)):
            model.load_state_dict(checkpoint["final"])
            loss, accuracy = surface_around(
                model, split, around, seed=config.curvature.seed, chunk=chunk, on_point=bar.update,
                bn_statistics=config.bn_statistics,
            )
            frames.append(_frame(around, loss, accuracy, kind))
            grids[kind] = loss
        loss, accuracy = surface_through(
            model, small["x0"], small["final"], large["final"], split, plane, chunk=chunk, on_point=bar.update,
            bn_statistics=config.bn_statistics,
        )
        frames.append(_frame(plane, loss, accuracy, "plane"))
        grids["plane"] = loss
    batches = {"sb": small["batch_size"], "lb": large["batch_size"]}
    write_csv(out, pd.concat(frames, ignore_index=True))
    write_figure(figure, surface_figure(around, plane, grids, batches, config.bn_statistics))


if __name__ == "__main__":
    app()
