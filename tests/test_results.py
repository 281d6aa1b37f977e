"""lbgap.results: result keys and the mean ± sample std over seeds."""

from __future__ import annotations

import math
import statistics

import pytest

from lbgap.results import eps_key, eta_key, mean_std, summarize


def test_keys_are_column_friendly():
    assert eps_key(1e-3) == "eps_1e-03" and eps_key(5e-4) == "eps_5e-04"
    assert eta_key(0.0) == "eta_0" and eta_key(0.01) == "eta_1e-02"
    assert "." not in eps_key(0.0003) + eta_key(0.25)


def test_mean_std_is_the_sample_std_and_none_for_one_value():
    values = [93.1, 94.2, 93.9]
    stats = mean_std(values)
    assert stats["mean"] == pytest.approx(statistics.fmean(values))
    assert stats["std"] == pytest.approx(statistics.stdev(values))  # ddof = 1, as for the paper's 5 runs
    assert mean_std([2.5]) == {"mean": 2.5, "std": None}


def test_summarize_each_key_over_rows():
    rows = [{"seed": 0, "a": 1.0, "b": 10.0}, {"seed": 1, "a": 3.0, "b": 10.0}]
    out = summarize(rows, ["a", "b"])
    assert out["a"] == {"mean": 2.0, "std": pytest.approx(math.sqrt(2))} and out["b"] == {"mean": 10.0, "std": 0.0}
