"""The same study cell run twice (say the committed CPU shard and a run of `benchmarks.study_network --keep` on
a GPU, where floating point, dropout masks and the random subspace's draw differ, and so, from the first steps
on, does each network's path), or one cell's two seeds set against each other: how far apart each network's
numbers land, and whether the cell's scores survive that.

    python -m benchmarks.study_replicate results/study-grid/shards/study-1000/metrics/study/b1000.json \\
        benchmarks/results/study_cell_cuda_b1000_output.json --name study_replicate_cuda_b1000
    python -m benchmarks.study_replicate results/study-grid/shards/study-1000/metrics/study/b1000.json \\
        --name study_replicate_seeds_b1000                 # first seed against second, same configurations

Per column (every baseline, measure and outcome of a study row): the median and largest relative difference
between the two runs of each configuration, how many runs left it undefined on each side, and Kendall's τ
with the gap over the networks in each run (the study's own τ) with its change. Per measure, each run's scores
as the study computes them (lbgap.experiments.study_summary.study_summary, over the axes that vary in the cell): Ψ,
whether ψ is above 0 on every axis, and the rule's verdict. Writes benchmarks/results/<name>.json and prints
tables.
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
from lbgap.experiments.study_summary import study_summary
from lbgap.experiments.study_statistics import TIE, kendall_tau_b

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


def scores(first: pd.DataFrame, second: pd.DataFrame, *, test_samples: int, resamples: int) -> pd.DataFrame:
    """One row per measure and baseline: each run's Ψ, whether its ψ is above 0 on every axis that varies, and
    whether the study's rule passes it (study_summary with the study's δ = 0.05 and 95 % intervals)."""
    rows = {}
    for label, table in (("first", first), ("second", second)):
        summary = study_summary(table, test_samples=test_samples, delta=0.05, resamples=resamples, confidence=0.95, seed=0)
        for r in summary["scores"]:
            rows.setdefault(r["name"], {"name": r["name"], "kind": r["kind"]})
            rows[r["name"]] |= {f"Psi_{label}": r["Psi"], f"psi_positive_{label}": all(r[f"psi_{a}"] > TIE for a in summary["axes"]),  # as the rule reads ψ
                                f"predicts_{label}": bool(r["predicts"])}
    return pd.DataFrame(list(rows.values()))


def _seeds_apart(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first and the second seed of every configuration, as two runs of the same cell (seed relabelled)."""
    first_seed, second_seed = sorted(table.seed.unique())[:2]
    return tuple(table[table.seed == s].assign(seed=0).reset_index(drop=True) for s in (first_seed, second_seed))


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@app.command()
def main(
    first: Annotated[Path, typer.Argument(help="A study stage's output (metrics/study/b<batch>.json).")],
    second: Annotated[Path | None, typer.Argument(help="The same cell's output from another run; none: `first`'s two seeds.")] = None,
    name: Annotated[str, typer.Option(help="Result name under benchmarks/results.")] = "study_replicate",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples of each run's scores.")] = 200,
) -> None:
    documents = [json.loads(path.read_text()) for path in (first, second) if path is not None]
    tables = [pd.DataFrame(document["rows"]) for document in documents]
    tables = [t[t.reached].reset_index(drop=True) for t in tables]
    if second is None:
        tables = list(_seeds_apart(tables[0]))
    result = compare(*tables)
    print(result.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    scored = scores(*tables, test_samples=documents[0]["test_samples"], resamples=resamples)
    print(scored.to_string(index=False, float_format=lambda v: f"{v:+.2f}"))
    write_result(name, {"first": str(first), "second": str(second) if second else "the second seed of each configuration",
                        "columns": _records(result), "scores": _records(scored)})


if __name__ == "__main__":
    app()
