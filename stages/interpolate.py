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
from lbgap.params import run_seed
from lbgap.report.figures import interpolation_figure
from stages.options import DataOption, FigureOption, LbModelsOption, PARAMS_DEFAULT, ParamsOption, run, SbModelsOption
from stages.inputs import load_inputs
from stages.params import clear_errors, load_params
from stages.outputs import stage, write_csv, write_figure

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    data: DataOption,
    sb_models: SbModelsOption,
    lb_models: LbModelsOption,
    out: Annotated[Path, typer.Option(help="CSV file: alpha, train/test loss and accuracy.")],
    figure: FigureOption,
    curved_out: Annotated[Path, typer.Option(help="CSV file: the same along sin(απ/2)·x_LB + cos(απ/2)·x_SB.")],
    curved_figure: Annotated[Path, typer.Option(help="PNG file for the curvilinear plot.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """f(α·x_LB + (1−α)·x_SB) over an α grid (and the curvilinear path), BN statistics per `bn_statistics`."""
    with clear_errors():
        settings = load_params(params)
        path, runtime, bn_statistics = settings.interpolate, settings.runtime, settings.bn_statistics
        run_seed(path.seed, "interpolate.seed", settings.seeds)
        inputs = load_inputs(runtime, data, checkpoints={"sb": (sb_models, path.seed), "lb": (lb_models, path.seed)})

    (small,), (large,) = inputs.checkpoints["sb"], inputs.checkpoints["lb"]
    title = f"SB (batch {small.batch_size}) → LB (batch {large.batch_size}), seed {path.seed}, BN statistics: {bn_statistics}"
    for kind, path_of, csv, png in (("linear", linear_path, out, figure), ("curvilinear", curvilinear_path, curved_out, curved_figure)):
        with tqdm(total=len(path.alphas), desc=f"{kind} path", unit="point") as bar:
            points = path_of(
                inputs.model, small.final, large.final, path.alphas, inputs.data, chunk=runtime.eval_chunk,
                on_point=lambda _: bar.update(), bn_statistics=bn_statistics,
            )
        curved = kind == "curvilinear"
        # written when the command ends (@stage), so both paths land together or not at all
        write_csv(csv, pd.DataFrame([asdict(p) for p in points]))
        write_figure(png, interpolation_figure(points, f"{title}, curvilinear path" if curved else title, curvilinear=curved))


if __name__ == "__main__":
    run(app)
