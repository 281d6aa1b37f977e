"""The bottom of the package: how results are keyed and summarized over seeds.

Every layer writes per-seed rows and summarizes them the same way, and the report reads them back by the
same keys, so both live here, below everything that produces or consumes results.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import pandas as pd


def eps_key(eps: float) -> str:
    """A column-friendly key for ε: 1e-3 → 'eps_1e-03' (no dots, so DVC column names stay readable)."""
    return f"eps_{eps:.0e}"


def eta_key(eta: float) -> str:
    """0.01 → 'eta_1e-02', 0 → 'eta_0'."""
    return "eta_0" if eta == 0 else f"eta_{eta:.0e}"


def mean_std(values: Iterable[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (ddof = 1, as for the paper's 5 runs); std is None for one value."""
    series = pd.Series(list(values), dtype="float64")
    std = series.std(ddof=1)
    return {"mean": float(series.mean()), "std": None if math.isnan(std) else float(std)}


def summarize(rows: Sequence[Mapping[str, float]], keys: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """mean_std of each of `keys` over the per-seed `rows`."""
    return {key: mean_std(row[key] for row in rows) for key in keys}
