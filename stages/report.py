"""Stage `report`: headline metrics, the markdown report and its figures, from the other stages' outputs
at the paths dvc.yaml passes (the remedies' and sweep points' files inside the folders dvc.yaml's
foreach and matrix fill, by name from params)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from lbgap.params import Params, as_yaml
from lbgap.report.markdown import FIGURES, build_report
from lbgap.report.run import RunResults
from stages.options import PARAMS_DEFAULT, ParamsOption, run
from stages.documents import read_csv, read_json
from stages.params import InputError, clear_errors, load_params
from stages.outputs import stage, write_csv, write_figure, write_json, write_text

app = typer.Typer(add_completion=False)


# The inputs, each named by its option (`--train-sb`: train@sb's metrics); dvc.yaml passes every path
StageJson = Annotated[Path, typer.Option(help="A stage's JSON document, as dvc.yaml names it.")]
StageCsv = Annotated[Path, typer.Option(help="A stage's CSV table, as dvc.yaml names it.")]
StageFolder = Annotated[Path, typer.Option(help="A folder of stage documents: <remedy>.json, b<batch>.json.")]
LinkedFigure = Annotated[Path, typer.Option(help="A stage's figure, linked from the report.")]
Written = Annotated[Path, typer.Option(help="A file this stage writes.")]


@dataclass(frozen=True)
class Inputs:
    """Every file the report reads, as dvc.yaml names them; per regime `<kind>_sb`, `<kind>_lb`."""

    train_sb: Path
    train_lb: Path
    curves_sb: Path
    curves_lb: Path
    sharpness_sb: Path
    sharpness_lb: Path
    mitigation: Path  # folder: <remedy>.json per name in `remedies`
    tuning: Path  # folder: <remedy>.json per name in `remedies`
    sweep: Path  # folder: b<batch>.json per entry of `sweep.batches`
    warm_start: Path
    trajectory_sb: Path
    trajectory_lb: Path
    curvature_sb: Path
    curvature_lb: Path
    spectrum_sb: Path
    spectrum_lb: Path
    epsilon_sb: Path
    epsilon_lb: Path
    rescaling: Path
    predictors: Path
    solutions: Path
    grid: Path  # grid_summary's predictions
    grid_table: Path  # grid_summary's table: one row per grid run
    grid_edge: Path  # grid_summary's edge traces: one row per record along training
    study: Path  # study_summary's scores


def read_run(settings: Params, inputs: Inputs) -> RunResults:
    regimes = ("sb", "lb")
    each = lambda kind, read: {r: read(getattr(inputs, f"{kind}_{r}")) for r in regimes}  # noqa: E731
    return RunResults(
        params=as_yaml(settings),
        train=each("train", read_json),
        curves=each("curves", read_csv),
        sharpness=each("sharpness", read_json),
        remedies=[read_json(inputs.mitigation / f"{name}.json") for name in settings.remedies],
        tuning=[read_json(inputs.tuning / f"{name}.json") for name in settings.remedies],
        sweep=[read_json(inputs.sweep / f"b{b}.json") for b in settings.sweep.batches],
        warm_start=read_json(inputs.warm_start),
        trajectories=each("trajectory", read_csv),
        curvature=each("curvature", read_json),
        spectra=each("spectrum", read_csv),
        epsilon_frames=each("epsilon", read_csv),
        rescaling=read_json(inputs.rescaling),
        predictors=read_json(inputs.predictors),
        solutions=read_csv(inputs.solutions),
        grid=read_json(inputs.grid),
        grid_table=read_csv(inputs.grid_table),
        grid_edge=read_csv(inputs.grid_edge),
        study=read_json(inputs.study),
    )


@app.command()
@stage
def main(
    train_sb: StageJson, train_lb: StageJson, curves_sb: StageCsv, curves_lb: StageCsv,
    sharpness_sb: StageJson, sharpness_lb: StageJson, mitigation: StageFolder, tuning: StageFolder, sweep: StageFolder,
    warm_start: StageJson,
    trajectory_sb: StageCsv, trajectory_lb: StageCsv, curvature_sb: StageJson, curvature_lb: StageJson,
    spectrum_sb: StageCsv, spectrum_lb: StageCsv, epsilon_sb: StageCsv, epsilon_lb: StageCsv,
    rescaling: StageJson, predictors: StageJson, solutions: StageCsv, grid: StageJson, grid_table: StageCsv, grid_edge: StageCsv,
    study: StageJson,
    interpolation_figure: LinkedFigure, curvilinear_figure: LinkedFigure, warm_start_figure: LinkedFigure,
    surface_figure: LinkedFigure,
    summary: Annotated[Path, typer.Option(help="JSON file for every number the report quotes.")],
    headline: Annotated[Path, typer.Option(help="JSON file for the headline numbers (DVC's metrics: `dvc exp show`).")],
    sweep_table: Written, remedies_table: Written, tau_table: Written,
    figures: Annotated[Path, typer.Option(help="Folder for the report's own figures, <name>.png.")],
    report: Annotated[Path, typer.Option(help="Markdown report to write.")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Summarize the run: Tables 2-4 of the paper for this run, figures, and the summary and headline metrics."""
    inputs = Inputs(
        train_sb, train_lb, curves_sb, curves_lb, sharpness_sb, sharpness_lb, mitigation, tuning, sweep, warm_start,
        trajectory_sb, trajectory_lb, curvature_sb, curvature_lb, spectrum_sb, spectrum_lb, epsilon_sb, epsilon_lb,
        rescaling, predictors, solutions, grid, grid_table, grid_edge, study,
    )
    with clear_errors():
        run = read_run(load_params(params), inputs)
    linked = {"interpolation": interpolation_figure, "curvilinear": curvilinear_figure, "warm_start": warm_start_figure,
              "surface": surface_figure}
    paths = {name: linked.get(name, figures / f"{name}.png") for name in FIGURES}
    with clear_errors():
        try:
            built = build_report(run, lambda name: Path(os.path.relpath(paths[name], report.parent)).as_posix())
        except (KeyError, IndexError, TypeError, AttributeError) as error:  # a stage of another version, a hand edit
            raise InputError(f"an input of the report lacks an expected field ({type(error).__name__}: {error}); "
                             "re-run the stages that write its inputs (`dvc repro`)") from None
    write_csv(sweep_table, built.sweep)
    write_csv(remedies_table, built.remedies)
    write_csv(tau_table, built.predictors_tau)
    for name in built.figures:
        write_figure(paths[name], built.figures[name])
    write_json(summary, built.summary)
    write_json(headline, built.headline)
    write_text(report, built.markdown)


if __name__ == "__main__":
    run(app)
