"""What every stage does first: read params.yaml whole and validate it (lbgap.params), and turn bad params
or inputs into one clear line (`clear_errors`)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator

import typer
import yaml

from lbgap.params import Params, ParamsError, read_params
from lbgap.remedies.registry import check_mitigation


class InputError(Exception):
    """An input file is missing or not what the stage expects."""


def load_params(path: Path) -> Params:
    """params.yaml parsed and validated whole: every key, type, range and relation (lbgap.params), and every
    remedy's options (by the remedies' registry)."""
    if not path.is_file():
        raise InputError(f"parameter file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise InputError(f"{path} is not valid YAML{line}: {problem}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path} must hold a mapping of parameters")
    params = read_params(raw)
    check_mitigation(params.mitigation, params.tuning.grids)
    return params


def check_sweep_batch(path: Path, batch: int) -> None:
    """Refuse a sweep batch size that `sweep.batches` does not list (dvc.yaml's matrix makes one stage per
    entry). Read apart from the sections a sweep stage hands on: refusing a size changes nothing a listed
    size computes, so no sweep stage depends on the list, and adding a size runs only its own stage."""
    if batch < 1:
        raise ParamsError(f"the sweep's batch size must be an integer >= 1 (got {batch})")
    if batch not in (listed := load_params(path).sweep.batches):
        raise ParamsError(f"the sweep's batch size {batch} is not in 'sweep.batches' ({', '.join(map(str, listed))})")


def check_grid_cell(path: Path, optimizer: str, batch: int) -> None:
    """Refuse a grid cell that `grid.optimizers` × `grid.batches` does not list (as `check_sweep_batch`)."""
    grid = load_params(path).grid
    if optimizer not in grid.optimizers:
        raise ParamsError(f"the grid's optimizer {optimizer!r} is not in 'grid.optimizers' ({', '.join(grid.optimizers)})")
    if batch not in grid.batches:
        raise ParamsError(f"the grid's batch size {batch} is not in 'grid.batches' ({', '.join(map(str, grid.batches))})")


def check_study_batch(path: Path, batch: int) -> None:
    """Refuse a study batch size that `study.batch_sizes` does not list (as `check_sweep_batch`)."""
    sizes = load_params(path).study.batch_sizes
    if batch not in sizes:
        raise ParamsError(f"the study's batch size {batch} is not in 'study.batch_sizes' ({', '.join(map(str, sizes))})")


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Bad params or inputs end the command with one line on stderr and exit code 2, no traceback."""
    try:
        yield
    except (ParamsError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(code=2) from None
