"""Stage `interpolate`: the parametric 1-D plots between one SB and one LB solution (paper Figure 3,
straight and, as in its appendix, curvilinear)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from tqdm import tqdm

from lbgap.measures.landscape import curvilinear_path, linear_path
from lbgap.params.measures import InterpolateParams
from lbgap.report.figures import interpolation_figure
from stages.common import PARAMS_DEFAULT, ParamsOption, clear_errors, load_inputs, load_params
from stages.outputs import stage, write_csv, write_figure

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")],
    sb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs.")],
    lb_models: Annotated[Path, typer.Option(help="Checkpoint folder of the LB runs.")],
    out: Annotated[Path, typer.Option(help="CSV file: alpha, train/test loss and accuracy.")],
    figure: Annotated[Path, typer.Option(help="PNG file for the plot.")],
    curved_out: Annotated[Path, typer.Option(help="CSV file: the same along sin(απ/2)·x_LB + cos(απ/2)·x_SB.")],
    curved_figure: Annotated[Path, typer.Option(help="PNG file for the curvilinear plot.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """f(α·x_LB + (1−α)·x_SB) over an α grid (and the curvilinear path), BN statistics per `bn_statistics`."""
    with clear_errors():
        config = InterpolateParams.parse(load_params(params))
        inputs = load_inputs(config.runtime, data, checkpoints={"sb": (sb_models, config.seed), "lb": (lb_models, config.seed)})

    (small,), (large,) = inputs.checkpoints["sb"], inputs.checkpoints["lb"]
    title = f"SB (batch {small.batch_size}) → LB (batch {large.batch_size}), seed {config.seed}, BN statistics: {config.bn_statistics}"
    for kind, path_of, csv, png in (("linear", linear_path, out, figure), ("curvilinear", curvilinear_path, curved_out, curved_figure)):
        with tqdm(total=len(config.alphas), desc=f"{kind} path", unit="point") as bar:
            points = path_of(
                inputs.model, small.final, large.final, config.alphas, inputs.data, chunk=config.runtime.eval_chunk,
                on_point=lambda _: bar.update(), bn_statistics=config.bn_statistics,
            )
        curved = kind == "curvilinear"
        # written when the command ends (@stage), so both paths land together or not at all
        write_csv(csv, pd.DataFrame([asdict(p) for p in points]))
        write_figure(png, interpolation_figure(points, f"{title}, curvilinear path" if curved else title, curvilinear=curved))


if __name__ == "__main__":
    app()
