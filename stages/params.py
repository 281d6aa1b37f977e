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


def check_listed(path: Path, key: str, value: object, what: str) -> None:
    """Refuse `what` = `value` when the params list at `key` (a YAML path, e.g. 'sweep.batches') does not
    hold it: dvc.yaml's matrix makes one stage per entry. Read apart from the sections a stage hands on:
    refusing a value changes nothing a listed value computes, so no stage depends on the list, and adding
    an entry runs only its own stage."""
    listed = load_params(path)
    for part in key.split("."):
        listed = getattr(listed, part)
    if value not in listed:
        raise ParamsError(f"{what} {value!r} is not in '{key}' ({', '.join(map(str, listed))})")


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Bad params or inputs end the command with one line on stderr and exit code 2, no traceback."""
    try:
        yield
    except (ParamsError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(code=2) from None
