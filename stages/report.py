"""Stage `report`: headline metrics, the markdown report and its figures, from the other stages' outputs
(read by their dvc.yaml names under --metrics and --plots; the remedies and batch sizes from params)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lbgap.params import Params, as_yaml
from lbgap.report.markdown import FIGURES, build_report
from lbgap.report.run import RunResults
from stages.options import PARAMS_DEFAULT, ParamsOption
from stages.documents import read_csv, read_json
from stages.params import InputError, clear_errors, load_params
from stages.outputs import stage, write_csv, write_figure, write_json, write_text

app = typer.Typer(add_completion=False)
OTHER_FIGURES = {  # drawn by other stages, linked from the report
    "interpolation": "interpolation.png", "curvilinear": "interpolation_curvilinear.png", "warm_start": "warm_start.png",
    "surface": "surface.png",
}


def read_run(settings: Params, metrics: Path, plots: Path) -> RunResults:
    regimes = ("sb", "lb")
    return RunResults(
        params=as_yaml(settings),
        train={r: read_json(metrics / f"train_{r}.json") for r in regimes},
        curves={r: read_csv(plots / f"train_{r}.csv") for r in regimes},
        sharpness={r: read_json(metrics / f"sharpness_{r}.json") for r in regimes},
        remedies=[read_json(metrics / "mitigation" / f"{name}.json") for name in settings.remedies],
        sweep=[read_json(metrics / "sweep" / f"b{b}.json") for b in settings.sweep.batches],
        warm_start=read_json(metrics / "warm_start.json"),
        trajectories={r: read_csv(plots / f"trajectory_{r}.csv") for r in regimes},
        curvature={r: read_json(metrics / f"curvature_{r}.json") for r in regimes},
        spectra={r: read_csv(plots / f"spectrum_{r}.csv") for r in regimes},
        epsilon_frames={r: read_csv(plots / f"epsilon_sensitivity_{r}.csv") for r in regimes},
        rescaling=read_json(metrics / "rescaling.json"),
        predictors=read_json(metrics / "predictors.json"),
        solutions=read_csv(plots / "predictors.csv"),
    )


@app.command()
@stage
def main(
    metrics: Annotated[Path, typer.Option(help="Folder of the stages' metrics; summary.json is written here.")],
    plots: Annotated[Path, typer.Option(help="Folder of the stages' plots; sweep.csv and figures/ are written here.")],
    report: Annotated[Path, typer.Option(help="Markdown report to write.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Summarize the run: Tables 2-4 of the paper for this run, figures, and metrics/summary.json."""
    with clear_errors():
        run = read_run(load_params(params), metrics, plots)
    paths = {name: plots / OTHER_FIGURES[name] if name in OTHER_FIGURES else plots / "figures" / f"{name}.png" for name in FIGURES}
    with clear_errors():
        try:
            built = build_report(run, lambda name: Path(os.path.relpath(paths[name], report.parent)).as_posix())
        except (KeyError, IndexError, TypeError, AttributeError) as error:  # a stage of another version, a hand edit
            raise InputError(f"an input of the report lacks an expected field ({type(error).__name__}: {error}); "
                             "re-run the stages that write its inputs (`dvc repro`)") from None
    write_csv(plots / "sweep.csv", built.sweep)
    write_csv(plots / "remedies.csv", built.remedies)
    write_csv(plots / "predictors_tau.csv", built.predictors_tau)
    for name, figure in built.figures.items():
        write_figure(paths[name], figure)
    write_json(metrics / "summary.json", built.summary)
    write_text(report, built.markdown)


if __name__ == "__main__":
    app()
