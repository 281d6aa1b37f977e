"""lbgap.report.remedies and lbgap.report.predictors: gap closed, its table, the τ verdicts."""

from __future__ import annotations

import math

import pytest

from lbgap.report.predictors import measure_name, verdict
from lbgap.report.remedies import gap_closed, gap_closed_frame, gap_closed_table


def test_gap_closed_is_zero_at_lb_and_a_hundred_at_sb():
    assert gap_closed(88.0, 93.0, 88.0) == 0 and gap_closed(93.0, 93.0, 88.0) == 100
    assert gap_closed(90.5, 93.0, 88.0) == pytest.approx(50) and gap_closed(87.0, 93.0, 88.0) == pytest.approx(-20)
    assert math.isnan(gap_closed(90.0, 88.0, 88.0))


def _doc(accuracies, phi, batch, updates=10):
    rows = [{"test_accuracy": a} for a in accuracies]
    mean = sum(accuracies) / len(accuracies)
    return {
        "batch_size": batch,
        "train": {"per_seed": rows, "summary": {"test_accuracy": {"mean": mean, "std": None}, "distance_from_x0": {"mean": 3.0, "std": None},
                                                 "updates": {"mean": updates, "std": None}, "samples": {"mean": updates * batch, "std": None},
                                                 "seconds": {"mean": 1.0, "std": None}}},
        "sharpness": {"summary": {"full": {"eps_1e-03": {"phi": {"mean": phi, "std": None}}}}},
    }


def test_the_frame_has_plain_sb_lb_then_each_remedy_with_its_own_gap():
    docs = {"sb": _doc([0.93], 20.0, 256), "lb": _doc([0.88], 3000.0, 4000)}
    train = {r: {"batch_size": d["batch_size"], **d["train"]} for r, d in docs.items()}  # as the train stages write them
    sharpness = {r: d["sharpness"] for r, d in docs.items()}
    remedy = {"strategy": "sgd", **_doc([0.905], 500.0, 4000), "small_batch": _doc([0.95], 30.0, 256)}
    frame = gap_closed_frame(train, sharpness, [remedy], {"sb": 5.0, "lb": 50.0, "sgd": 20.0})
    assert list(frame.training) == ["SB (plain Adam)", "LB (plain Adam)", "sgd"]
    sgd = frame.iloc[2]
    assert sgd.gap_closed == pytest.approx(50) and sgd.own_gap == pytest.approx(4.5) and sgd.lambda_max == 20.0
    text = gap_closed_table(frame)
    line = next(row for row in text.splitlines() if row.startswith("| sgd "))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:5] == ["90.50", "50", "500.0"] and cells[-1] == "4.50"  # accuracy, gap closed, φ; own gap


def test_verdicts_separate_prediction_from_separating_batch_sizes():
    row = lambda tau, low, high: {"tau": tau, "low": low, "high": high}  # noqa: E731
    assert verdict(row(0.5, 0.2, 0.8), row(0.4, 0.1, 0.6)) == "predicts"
    assert verdict(row(0.5, 0.2, 0.8), row(0.1, -0.2, 0.4)) == "separates batch sizes only"
    assert verdict(row(-0.5, -0.8, -0.2), row(-0.1, -0.4, 0.2)) == "separates batch sizes only, inversely"
    assert verdict(row(0.1, -0.2, 0.4), row(0.1, -0.2, 0.4)) == "no"
    assert verdict(row(0.5, 0.2, 0.8), row(-0.5, -0.8, -0.2)) == "inverse"  # within batch it ranks the wrong way
    nan = float("nan")
    assert verdict(row(0.5, 0.2, 0.8), row(nan, nan, nan)) == "not tested within batch"
    assert measure_name("phi_subspace_eps_5e-04") == "φ subspace ε=5e-04" and measure_name("lambda_max") == "λ_max"
