"""lbgap.report.numbers: the headline numbers, recomputed independently from the stages' per-seed rows."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest

from lbgap.report.markdown import summary_numbers
from lbgap.report.numbers import distance_ratio, headline, headline_metrics, null_if_undefined, remedy_numbers, warm_start_numbers

REPO = Path(__file__).resolve().parents[2]  # the repository root


def test_the_dvc_metrics_are_a_few_numbers_read_off_the_committed_per_seed_rows(committed_run):
    """metrics/headline.json, the one file DVC lists as metrics: as the report writes it from the committed
    run, and each number against the stages' per-seed rows (not against the summary it is built from)."""
    committed = json.loads((REPO / "metrics/headline.json").read_text())
    assert committed == null_if_undefined(headline_metrics(summary_numbers(committed_run)))
    assert len(committed) <= 15
    train, sharp = committed_run.train, committed_run.sharpness
    test = {r: 100 * statistics.fmean(row["test_accuracy"] for row in train[r]["per_seed"]) for r in ("sb", "lb")}
    assert committed["gap"] == pytest.approx(test["sb"] - test["lb"])
    key = next(iter(sharp["sb"]["per_seed"]["full"]))
    phi = {r: statistics.fmean(row["phi"] for row in sharp[r]["per_seed"]["full"][key]) for r in ("sb", "lb")}
    assert (committed["phi_sb"], committed["phi_ratio"]) == (pytest.approx(phi["sb"]), pytest.approx(phi["lb"] / phi["sb"]))


def test_headline_accuracies_gap_and_sharpness_ratios(committed_run):
    train, sharp = committed_run.train, committed_run.sharpness
    numbers = headline(train, sharp)
    for regime in ("sb", "lb"):
        rows = train[regime]["per_seed"]
        assert numbers["test_acc_pct"][regime] == pytest.approx(100 * statistics.fmean(r["test_accuracy"] for r in rows))
        assert numbers["train_acc_pct"][regime] == pytest.approx(100 * statistics.fmean(r["train_accuracy"] for r in rows))
    assert numbers["test_acc_pct"]["gap"] == pytest.approx(numbers["test_acc_pct"]["sb"] - numbers["test_acc_pct"]["lb"])
    for space in ("full", "subspace"):
        for key, value in numbers["sharpness"][space].items():
            sb, lb = (statistics.fmean(r["phi"] for r in sharp[regime]["per_seed"][space][key]) for regime in ("sb", "lb"))
            assert (value["sb"], value["lb"]) == (pytest.approx(sb), pytest.approx(lb))
            assert value["lb_over_sb"] == pytest.approx(lb / sb)


def test_the_distance_ratio_pairs_each_seeds_sb_and_lb():
    train = {regime: {"per_seed": [{"seed": s, "distance_from_x0": d} for s, d in rows]}
             for regime, rows in (("sb", [(0, 30.0), (1, 40.0)]), ("lb", [(1, 10.0), (0, 10.0), (2, 5.0)]))}
    ratio = distance_ratio(train)
    assert [(r["seed"], r["ratio"]) for r in ratio["per_seed"]] == [(1, 4.0), (0, 3.0)]  # seed 2 has no SB run
    assert ratio["mean"] == 3.5 and ratio["std"] == pytest.approx(math.sqrt(0.5))


def test_remedies_and_warm_start_are_keyed_for_dvc_exp_show(committed_run):
    remedies = remedy_numbers(committed_run.remedies)
    assert list(remedies) == list(committed_run.params["remedies"])  # the order of `remedies`
    for remedy in committed_run.remedies:
        mean = 100 * statistics.fmean(r["test_accuracy"] for r in remedy["train"]["per_seed"])
        assert remedies[remedy["strategy"]]["test_acc_pct"] == pytest.approx(mean)
    points = pd.DataFrame({"sb_epochs": [0, 4], "lb_test_accuracy": [0.5, 0.75], "lb_sharpness": [3.0, 2.0]})
    assert warm_start_numbers(points) == {"sb_epochs_0": {"lb_test_acc_pct": 50.0, "lb_sharpness": 3.0},
                                          "sb_epochs_4": {"lb_test_acc_pct": 75.0, "lb_sharpness": 2.0}}


def test_the_report_reproduces_the_committed_summary(committed_run):
    committed = json.loads((REPO / "metrics/summary.json").read_text())
    assert null_if_undefined(summary_numbers(committed_run)) == committed


def test_headline_metrics_are_strict_json():
    """NaN (an undefined noise scale) becomes null in metrics/summary.json, which strict readers require."""
    cleaned = null_if_undefined({"a": float("nan"), "b": {"c": float("inf"), "d": 1.5}, "e": [1]})
    assert cleaned == {"a": None, "b": {"c": None, "d": 1.5}, "e": [1]}
    json.loads(json.dumps(cleaned), parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))
