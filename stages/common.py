"""What every stage shares: reading params.yaml, turning bad input into one clear line, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch
import typer
import yaml

from lbgap.config import ModelParams, ParamsError
from lbgap.data import DataSet, from_arrays
from lbgap.models import build_model

ParamsOption = Annotated[Path, typer.Option("--params", help="Parameter file to read.")]
PARAMS_DEFAULT = Path("params.yaml")


class InputError(Exception):
    """An input file is missing or not what the stage expects."""


def load_params(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"parameter file not found: {path}")
    with path.open() as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, dict):
        raise InputError(f"{path} must hold a mapping of parameters")
    return raw


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Bad params or inputs end the command with one line on stderr and exit code 2, no traceback."""
    try:
        yield
    except (ParamsError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(code=2) from None


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: Path, obj: Any) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:  # a file object keeps numpy from appending ".npz"
            np.savez(handle, **arrays)

    _atomic(path, write)


def write_figure(path: Path, figure) -> None:
    import matplotlib.pyplot as plt

    _atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(figure)


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_data(path: Path) -> DataSet:
    if not path.is_file():
        raise InputError(f"data file not found: {path} (run `dvc repro prepare`)")
    with np.load(path) as arrays:
        return from_arrays(arrays)


def checkpoint_path(folder: Path, seed: int) -> Path:
    return folder / f"seed_{seed}.pt"


def checkpoint_seeds(folder: Path) -> list[int]:
    """Seeds of the checkpoints in `folder`, ascending; an empty or missing folder is an InputError."""
    seeds = sorted(int(p.stem.removeprefix("seed_")) for p in folder.glob("seed_*.pt"))
    if not seeds:
        raise InputError(f"no checkpoints seed_<k>.pt in {folder} (run the train stages first)")
    return seeds


def load_checkpoint(folder: Path, seed: int) -> dict[str, Any]:
    """{'x0': state_dict, 'final': state_dict, 'batch_size': int, 'seed': int} as the train stage saved it."""
    path = checkpoint_path(folder, seed)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    return torch.load(path, weights_only=True)


def model_for(params: ModelParams, data: DataSet, seed: int = 0) -> torch.nn.Module:
    """The configured network for `data`, initial point drawn from `seed`; bad options are a ParamsError."""
    try:
        return build_model(
            params.name, input_shape=data.input_shape, num_classes=data.num_classes, seed=seed, options=params.options
        )
    except (TypeError, ValueError) as error:
        raise ParamsError(f"params: 'models.{params.name}': {error}") from None
