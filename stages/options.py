"""The command-line options several stages share, declared once (each stage's own outputs are its own)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

# Click's base of usage errors: Typer's own copy of Click in recent Typers, Click itself in older ones
ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

DataOption = Annotated[Path, typer.Option(help="npz written by the prepare stage.")]
ModelsOption = Annotated[Path, typer.Option(help="Checkpoint folder written by a train stage.")]
SbModelsOption = Annotated[Path, typer.Option(help="Checkpoint folder of the SB runs.")]
LbModelsOption = Annotated[Path, typer.Option(help="Checkpoint folder of the LB runs.")]
SbIteratesOption = Annotated[Path, typer.Option(help="Iterates folder of the SB runs (written by train@sb).")]
FigureOption = Annotated[Path, typer.Option(help="PNG file for the plot.")]
RegimeArgument = Annotated[str, typer.Argument(help="sb (batch size from `small_batch`) or lb (from `batch`).", metavar="sb|lb")]
ParamsOption = Annotated[Path, typer.Option("--params", help="Parameter file to read.")]
PARAMS_DEFAULT = Path("params.yaml")


def run(app: typer.Typer) -> None:
    """A stage's `python -m` entry: the command, with a usage error — a missing or unknown option, a value of
    the wrong type — as one `error:` line and exit code 2 (Typer would draw a box around it), like every
    other error a stage reports."""
    try:
        code = app(standalone_mode=False)
    except ClickException as error:  # a usage error: Typer's own message, on one line
        context = getattr(error, "ctx", None)
        command = context.command_path if context else "the command"
        message = " ".join(error.format_message().split())
        print(f"error: {message} (`{command} --help` lists the arguments)", file=sys.stderr)
        sys.exit(error.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
