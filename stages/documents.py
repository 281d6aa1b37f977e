"""Reading what other stages wrote (JSON metrics, CSV tables); a missing or unreadable file is an
InputError that says how to rebuild it."""

from __future__ import annotations

import json
from pathlib import Path

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


