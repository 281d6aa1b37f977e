"""`python -m stages.core_report`: keep the paper's core result of a run in a results folder — report.md,
summary.json, figures and the stage documents it was built from — with the command that produced it and
its wall time. For runs that ran only train, sharpness and interpolate (`dvc exp run … sharpness@sb
sharpness@lb interpolate`), whose full `report` stage cannot run; not a DVC stage itself."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from dvc.exceptions import DvcException
from dvc.repo import Repo

from lbgap.params import as_yaml
from lbgap.report.core import core_report
from stages.options import PARAMS_DEFAULT, ParamsOption, run
from stages.documents import read_csv, read_json
from stages.params import InputError, clear_errors, load_params
from stages.outputs import atomic_dir, stage, write_figure, write_json, write_text

app = typer.Typer(add_completion=False)
REGIMES = ("sb", "lb")
STAGES = (*(f"train@{r}" for r in REGIMES), *(f"sharpness@{r}" for r in REGIMES), "interpolate")  # what the core result reads


def declared_files(root: Path, stages: tuple[str, ...]) -> dict[str, list[Path]]:
    """Per stage, the files (not folders) that dvc.yaml at `root` declares as its outputs, in its order: the
    paths are named there once."""
    try:
        with Repo(str(root)) as repo:
            found = {stage: repo.stage.collect(stage)[0] for stage in stages}
    except DvcException as error:
        raise InputError(f"{root}: no stages {', '.join(stages)} to read the run from ({error})") from None
    return {stage: [root / str(out.def_path) for out in declared.outs if Path(str(out.def_path)).suffix]
            for stage, declared in found.items()}


def _one(files: list[Path], suffix: str) -> Path:
    return next(path for path in files if path.suffix == suffix)


@app.command()
@stage
def main(
    out: Annotated[Path, typer.Option(help="Results folder to write (replaced as a whole).")],
    command: Annotated[str, typer.Option(help="The command that produced the run, quoted in the report.")],
    seconds: Annotated[float, typer.Option(help="Its wall time in seconds (summed over the invocations of an interrupted, resumed run).")],
    commit: Annotated[str, typer.Option(help="The git commit it ran.")],
    root: Annotated[Path, typer.Option(help="Folder holding the run's metrics/ and plots/.")] = Path("."),
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Write OUT/report.md, OUT/summary.json, OUT/{training_curves,sharpness}.png and copies of the stage outputs."""
    with clear_errors():
        raw = as_yaml(load_params(params))
        files = declared_files(root, STAGES)
        train = {r: read_json(_one(files[f"train@{r}"], ".json")) for r in REGIMES}
        curves = {r: read_csv(_one(files[f"train@{r}"], ".csv")) for r in REGIMES}
        sharpness = {r: read_json(_one(files[f"sharpness@{r}"], ".json")) for r in REGIMES}
        report = core_report(raw, train, curves, sharpness, command=command, seconds=seconds, commit=commit,
                             interpolation=_one(files["interpolate"], ".png").name)
    with atomic_dir(out) as folder:
        for path in (path for stage in STAGES for path in files[stage]):
            shutil.copy2(path, folder / path.name)
        for name, figure in report.figures.items():
            write_figure(folder / f"{name}.png", figure)
        write_json(folder / "summary.json", report.summary)
        write_text(folder / "report.md", report.markdown)


if __name__ == "__main__":
    run(app)
