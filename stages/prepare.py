"""Stage `prepare`: build (mnist1d) or load (torchvision, npz) the data set named in params.yaml,
preprocess it, and save it as one npz file for every later stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lbgap.data import make_data_set, to_arrays
from lbgap.data.sources import DataUnavailable
from lbgap.params import ParamsError
from stages.options import PARAMS_DEFAULT, ParamsOption, run
from stages.params import InputError, clear_errors, load_params
from stages.outputs import stage, write_npz

app = typer.Typer(add_completion=False)


@app.command()
@stage
def main(
    out: Annotated[Path, typer.Option(help="Where to write the npz (x_train, y_train, x_test, y_test; x_val, y_val).")],
    params: ParamsOption = PARAMS_DEFAULT,
) -> None:
    """Make the data set of `data.*` (images scaled to [0, 1]; optionally standardized)."""
    with clear_errors():
        config = load_params(params).data
        try:
            data = make_data_set(
                config.name, num_train=config.num_train, num_test=config.num_test, seed=config.seed, validation=config.validation,
                standardized=config.standardize, root=Path(config.root),
                path=Path(config.path) if config.path else None, checksums=config.checksums, download=config.download,
            )
        except DataUnavailable as error:
            raise InputError(str(error)) from None
        except ValueError as error:
            raise ParamsError(f"params: {error}") from None
    write_npz(out, to_arrays(data))
    validation = f" / {len(data.validation)} validation" if data.validation is not None else ""
    typer.echo(f"{config.name}: {len(data.train)} train{validation} / {len(data.test)} test samples, "
               f"input {data.input_shape}, {data.num_classes} classes -> {out}")


if __name__ == "__main__":
    run(app)
