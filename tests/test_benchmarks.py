"""The study benchmarks' arithmetic against hand-worked answers, and the docs' quotes of their committed
results (one-off GPU measurements: the files are the source, the pages must print what they hold)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import kendalltau

from benchmarks.study_network import relative_differences, with_settings
from benchmarks.study_replicate import compare
from lbgap.experiments.study import AXES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/results"


def _page(name: str) -> str:
    return re.sub(r"\s+", " ", (REPO / "docs" / name).read_text())


def test_settings_are_set_as_dvc_exp_run_reads_them():
    params = {"study": {"seeds": 1, "widths": [256]}, "runtime": {"device": "auto"}}
    with_settings(params, ["study.widths=[256,512]", "runtime.device=cuda", "study.seeds=2"])
    assert params == {"study": {"seeds": 2, "widths": [256, 512]}, "runtime": {"device": "cuda"}}


def test_relative_differences_skip_the_configuration_and_mark_one_sided_nans():
    ours = {"seed": 1, "reached": True, "phi": 3.0, "noise": 2.0, "both_nan": math.nan}
    theirs = {"seed": 2, "reached": True, "phi": 2.0, "noise": math.nan, "both_nan": math.nan}
    assert relative_differences(ours, theirs) == {"phi": 0.5, "noise": math.inf, "both_nan": 0.0}


def _table(measure, gap):
    rows = [{**{axis: 1 for axis in AXES}, "learning_rate": k, "seed": 3000, "measure": m, "gap": g}
            for k, (m, g) in enumerate(zip(measure, gap))]
    return pd.DataFrame(rows)


def test_a_replicate_is_compared_run_by_run_and_by_its_ranking():
    first = _table([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    second = _table([2.0, 1.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.5])  # two runs' measure swapped, one gap moved
    result = compare(first, second).set_index("column")
    measure = result.loc["measure"]
    assert measure.median_relative_difference == pytest.approx(0.25)  # |2−1|/1, |1−2|/2, 0, 0
    assert measure.largest_relative_difference == pytest.approx(1.0)
    assert measure.tau_with_gap_first == pytest.approx(1.0)
    assert measure.tau_with_gap_second == pytest.approx(kendalltau([2, 1, 3, 4], [1, 2, 3, 4.5])[0])
    assert result.loc["gap", "tau_between_runs"] == pytest.approx(1.0)


def test_tables_of_different_runs_are_refused():
    with pytest.raises(SystemExit, match="different runs"):
        compare(_table([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), _table([1.0, 2.0], [1.0, 2.0]))


def test_the_designed_study_section_quotes_the_committed_replicate():
    columns = {c["column"]: c for c in json.loads((RESULTS / "study_replicate_cuda_b1000.json").read_text())["result"]["columns"]}
    page = _page("measures.md")
    gap, noise = columns["gap"], columns["noise_scale"]
    steady = [c for name, c in columns.items() if name not in {"gap", "train_loss", "noise_scale"}]
    assert max(abs(c["tau_change"]) for c in steady) <= 0.05
    assert f"τ = {gap['tau_between_runs']:.2f} between the two runs" in page
    assert f"{100 * gap['median_relative_difference']:.0f} % for the gap" in page
    assert f"{100 * columns['lambda_max']['median_relative_difference']:.0f} % for λ_max" in page
    assert f"{100 * noise['median_relative_difference']:.0f} % for the gradient noise scale" in page
    assert f"in {noise['undefined_first']:.0f} runs on one machine and {noise['undefined_second']:.0f} on the other" in page
    train = columns["train_loss"]
    quoted = f"({train['tau_with_gap_first']:+.2f} → {train['tau_with_gap_second']:+.2f}".replace("-", "−")  # the page's minus sign
    assert quoted in page


def test_the_performance_page_quotes_the_committed_gpu_runs():
    page = _page("performance.md")
    cell = json.loads((RESULTS / "study_cell_cuda_b1000.json").read_text())["result"]["batches"][0]
    shard = json.loads((REPO / "results/study-grid/shards/study-1000/run.json").read_text())
    assert f"took {cell['seconds']:.0f} s, {cell['seconds_per_network']:.1f} s per network" in page
    assert f"took {shard['seconds']:,} s for its 64 networks" in page
    assert f"{shard['seconds'] / 64:.0f} s per network" in page
    seeds = {r["batch"]: r for r in json.loads((RESULTS / "seeds_cuda.json").read_text())["result"]["rows"]}
    for batch, row in seeds.items():
        assert f"{row['one_by_one_s_per_epoch']:.2f} s against {row['together_s_per_epoch']:.2f} s" in page, batch
    grid = {r["batch"]: r for r in json.loads((RESULTS / "grid_cell_cuda.json").read_text())["result"]["rows"]}
    assert f"made {grid[64]['stacked_updates_per_s']:,.0f} and {grid[1000]['stacked_updates_per_s']:,.0f} updates per second" in page
