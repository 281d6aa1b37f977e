"""The command-line options several stages share, declared once (each stage's own outputs are its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataOption = Annotated[Path, typer.Option(help="npz written by the prepare stage.")]
ModelsOption = Annotated[Path, typer.Option(help="Checkpoint folder written by a train stage.")]
SbModelsOption = Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs.")]
LbModelsOption = Annotated[Path, typer.Option(help="Checkpoint folder of the LB runs.")]
SbIteratesOption = Annotated[Path, typer.Option(help="Iterates folder of the SB runs (written by train@sb).")]
FigureOption = Annotated[Path, typer.Option(help="PNG file for the plot.")]
RegimeArgument = Annotated[str, typer.Argument(help="sb (batch size from `small_batch`) or lb (from `batch`).", metavar="sb|lb")]
ParamsOption = Annotated[Path, typer.Option("--params", help="Parameter file to read.")]
PARAMS_DEFAULT = Path("params.yaml")
