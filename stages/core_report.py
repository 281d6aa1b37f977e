"""`python -m stages.core_report`: keep the paper's core result of a run in a results folder — report.md,
summary.json, figures and the stage documents it was built from — with the command that produced it and
its wall time. For runs that ran only train, sharpness and interpolate (`dvc exp run … sharpness@sb
sharpness@lb interpolate`), whose full `report` stage cannot run; not a DVC stage itself."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from lbgap.params import as_yaml
from lbgap.report.core import core_report
from stages.options import PARAMS_DEFAULT, ParamsOption, run
from stages.documents import read_csv, read_json
from stages.params import clear_errors, load_params
from stages.outputs import atomic_dir, stage, write_figure, write_json, write_text

app = typer.Typer(add_completion=False)
KEPT = ["metrics/train_sb.json", "metrics/train_lb.json", "metrics/sharpness_sb.json", "metrics/sharpness_lb.json",
        "plots/train_sb.csv", "plots/train_lb.csv", "plots/interpolation.csv", "plots/interpolation.png"]


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
        regimes = ("sb", "lb")
        train = {r: read_json(root / f"metrics/train_{r}.json") for r in regimes}
        curves = {r: read_csv(root / f"plots/train_{r}.csv") for r in regimes}
        sharpness = {r: read_json(root / f"metrics/sharpness_{r}.json") for r in regimes}
        report = core_report(raw, train, curves, sharpness, command=command, seconds=seconds, commit=commit,
                             interpolation="interpolation.png")
    with atomic_dir(out) as folder:
        for name in KEPT:
            shutil.copy2(root / name, folder / Path(name).name)
        for name, figure in report.figures.items():
            write_figure(folder / f"{name}.png", figure)
        write_json(folder / "summary.json", report.summary)
        write_text(folder / "report.md", report.markdown)


if __name__ == "__main__":
    run(app)
