"""Reading what other stages wrote (JSON metrics, CSV tables); a missing or unreadable file is an
InputError that says how to rebuild it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from stages.params import InputError

REBUILD = "rebuild it with `dvc repro -f` on the stage that writes it"


def read_json(path: Path) -> dict:
    """A JSON object another stage wrote; missing or unreadable is an InputError."""
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{path} is not valid JSON; {REBUILD}") from None
    if not isinstance(document, dict):
        raise InputError(f"{path} does not hold a JSON object; {REBUILD}")
    return document


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV table another stage wrote; missing or unreadable is an InputError."""
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError):  # pandas' EmptyDataError and ParserError are ValueErrors
        raise InputError(f"{path} is not a readable CSV; {REBUILD}") from None




def read_cells(folder: Path, names: Sequence[str], summary: str) -> tuple[list[dict], pd.DataFrame]:
    """The JSON documents `names` in `folder` that a matrix of stages wrote (one per entry), and their
    "rows" joined into one table; any missing is one InputError naming them all and the `summary` stage
    that rebuilds them with their writers."""
    if missing := [name for name in names if not (folder / name).is_file()]:
        raise InputError(f"{folder} lacks {', '.join(missing)}: run the stages that write them first (dvc repro {summary})")
    documents = [read_json(folder / name) for name in names]
    return documents, pd.DataFrame([row for document in documents for row in document["rows"]])
