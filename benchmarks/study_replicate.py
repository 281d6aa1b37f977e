"""The same study cell run twice (say the committed CPU shard and a run of `benchmarks.study_network --keep` on
a GPU, where floating point differs and so, from the first steps on, does each network's path): how far apart
each network's numbers land, and whether the cell's ranking of measures survives that.

    python -m benchmarks.study_replicate results/study-grid/shards/study-1000/metrics/study/b1000.json \\
        benchmarks/results/study_cell_cuda_b1000_output.json --name study_replicate_cuda_b1000

Per column (every baseline, measure and outcome of a study row): the median and largest relative difference
between the two runs of each configuration and seed, how many runs left it undefined on each side, and
Kendall's τ with the gap over the cell's networks in each run (lbgap.experiments.study_statistics.kendall_tau_b,
the study's own τ) with its change. Writes benchmarks/results/<name>.json and prints a table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from benchmarks.record import write_result
from lbgap.experiments.study import AXES
from lbgap.experiments.study_statistics import kendall_tau_b

app = typer.Typer(add_completion=False)
KEY = [*AXES, "seed"]
NOT_COMPARED = {*KEY, "reached", "diverged", "gap"}


def compare(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """One row per numeric column of both tables: median/max relative difference over the networks both runs
    measured (relative to `first`), the undefined counts, and τ with the gap in each run."""
    both = first.merge(second, on=KEY, suffixes=("_first", "_second"), validate="one_to_one")
    if len(both) != len(first) or len(both) != len(second):
        raise SystemExit(f"the tables hold different runs: {len(first)} and {len(second)} rows, {len(both)} in common")
    rows = []
    for column in first.columns:
        if column in NOT_COMPARED or column not in second.columns or not np.issubdtype(first[column].dtype, np.number):
            continue
        a, b = both[f"{column}_first"].to_numpy(float), both[f"{column}_second"].to_numpy(float)
        defined = ~np.isnan(a) & ~np.isnan(b)
        relative = np.abs(b[defined] - a[defined]) / np.maximum(np.abs(a[defined]), 1e-12)
        taus = []
        for table in (first, second):
            kept = table.dropna(subset=[column, "gap"])
            taus.append(float(kendall_tau_b(kept[[column]].to_numpy(float), kept["gap"].to_numpy(float))[0]))
        rows.append({"column": column, "networks": int(defined.sum()), "undefined_first": int(np.isnan(a).sum()),
                     "undefined_second": int(np.isnan(b).sum()),
                     "median_relative_difference": float(np.median(relative)) if defined.any() else float("nan"),
                     "largest_relative_difference": float(relative.max()) if defined.any() else float("nan"),
                     "tau_with_gap_first": taus[0], "tau_with_gap_second": taus[1], "tau_change": taus[1] - taus[0]})
    gap = kendall_tau_b(both[["gap_first"]].to_numpy(float), both["gap_second"].to_numpy(float))[0]
    rows.append({"column": "gap", "networks": len(both), "tau_between_runs": float(gap),
                 "median_relative_difference": float(np.median(np.abs(both.gap_second - both.gap_first) / both.gap_first.abs()))})
    return pd.DataFrame(rows)


@app.command()
def main(
    first: Annotated[Path, typer.Argument(help="A study stage's output (metrics/study/b<batch>.json).")],
    second: Annotated[Path, typer.Argument(help="The same cell's output from another run.")],
    name: Annotated[str, typer.Option(help="Result name under benchmarks/results.")] = "study_replicate",
) -> None:
    tables = [pd.DataFrame(json.loads(path.read_text())["rows"]) for path in (first, second)]
    tables = [t[t.reached].reset_index(drop=True) for t in tables]
    result = compare(*tables)
    print(result.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    write_result(name, {"first": str(first), "second": str(second), "columns": result.astype(object).where(result.notna(), None).to_dict("records")})


if __name__ == "__main__":
    app()
