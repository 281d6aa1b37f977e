"""lbgap.report.remedies and lbgap.report.predictors: gap closed, its table, the τ verdicts."""

from __future__ import annotations

import math

import pytest

from lbgap.report.predictors import measure_name, verdict
import pandas as pd
from matplotlib.colors import to_rgba

from lbgap.report.figures import COLORS
from scipy import stats

from lbgap.report.remedies import (
    gap_closed, gap_closed_figures, gap_closed_frame, gap_closed_table, paired_interval, scaling_rules_text, tuning_table,
)


def test_gap_closed_is_zero_at_lb_and_a_hundred_at_sb():
    assert gap_closed(88.0, 93.0, 88.0) == 0 and gap_closed(93.0, 93.0, 88.0) == 100
    assert gap_closed(90.5, 93.0, 88.0) == pytest.approx(50) and gap_closed(87.0, 93.0, 88.0) == pytest.approx(-20)
    assert math.isnan(gap_closed(90.0, 88.0, 88.0))


def _doc(accuracies, phi, batch, updates=10):
    rows = [{"seed": k, "test_accuracy": a} for k, a in enumerate(accuracies)]
    mean = sum(accuracies) / len(accuracies)
    return {
        "batch_size": batch,
        "train": {"per_seed": rows, "summary": {"test_accuracy": {"mean": mean, "std": None}, "distance_from_x0": {"mean": 3.0, "std": None},
                                                 "updates": {"mean": updates, "std": None}, "samples": {"mean": updates * batch, "std": None},
                                                 "seconds": {"mean": 1.0, "std": None}}},
        "sharpness": {"summary": {"full": {"eps_1e-03": {"phi": {"mean": phi, "std": None}}}}},
    }


def _cells(table: str, name: str) -> dict[str, str]:
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    line = next(row for row in table.splitlines() if row.startswith(f"| {name} "))
    return dict(zip(header, (c.strip() for c in line.strip("|").split("|"))))


def test_the_frame_has_plain_sb_lb_then_each_remedy_with_its_own_gap():
    docs = {"sb": _doc([0.93], 20.0, 256), "lb": _doc([0.88], 3000.0, 4000)}
    train = {r: {"batch_size": d["batch_size"], **d["train"]} for r, d in docs.items()}  # as the train stages write them
    sharpness = {r: d["sharpness"] for r, d in docs.items()}
    remedy = {"strategy": "sgd", **_doc([0.905], 500.0, 4000), "small_batch": _doc([0.95], 30.0, 256)}
    frame = gap_closed_frame(train, sharpness, [remedy], {"sb": 5.0, "lb": 50.0, "sgd": 20.0})
    assert list(frame.training) == ["SB (plain Adam)", "LB (plain Adam)", "sgd"]
    sgd = frame.iloc[2]
    assert sgd.gap_closed == pytest.approx(50) and sgd.own_gap == pytest.approx(4.5) and sgd.lambda_max == 20.0
    assert pd.isna(sgd.helps) and math.isnan(sgd.gap_closed_low)  # one seed: no interval, no verdict
    cells = _cells(gap_closed_table(frame), "sgd")
    assert (cells["test accuracy (%)"], cells["gap closed (%)"], cells["φ"], cells["own gap (points)"]) == ("90.50", "50", "500.0", "4.50")
    assert cells["95 % interval"] == "–" and cells["helps"] == "–"


def test_gap_closed_has_the_paired_t_interval_over_seeds_and_helps_only_above_zero():
    plain = {"sb": [0.93, 0.94, 0.92], "lb": [0.88, 0.87, 0.89]}
    docs = {r: _doc(a, 10.0, 4000) for r, a in plain.items()}
    train = {r: {"batch_size": d["batch_size"], **d["train"]} for r, d in docs.items()}
    sharpness = {r: d["sharpness"] for r, d in docs.items()}
    steady = {"strategy": "steady", **_doc([0.905, 0.896, 0.914], 50.0, 4000)}  # +2.5, +2.6, +2.4 points: paired, tight
    noisy = {"strategy": "noisy", **_doc([0.93, 0.84, 0.90], 50.0, 4000)}  # +5, −3, +1
    frame = gap_closed_frame(train, sharpness, [steady, noisy], {})
    gap = 100 * (sum(plain["sb"]) - sum(plain["lb"])) / 3
    for row, remedy in zip(frame.iloc[2:].itertuples(), (steady, noisy)):
        accuracies = [100 * r["test_accuracy"] for r in remedy["train"]["per_seed"]]
        interval = stats.ttest_rel(accuracies, [100 * a for a in plain["lb"]]).confidence_interval(0.95)  # independent: scipy
        assert (row.gap_closed_low, row.gap_closed_high) == pytest.approx((100 * interval.low / gap, 100 * interval.high / gap))
    assert list(frame.helps.iloc[2:]) == [True, False]
    assert paired_interval([1.0, 2.0, 3.0]) == pytest.approx((2.0, 2.0 - 4.302653 / 3 ** 0.5, 2.0 + 4.302653 / 3 ** 0.5))


def test_accuracy_at_equal_epochs_reads_every_run_where_the_shortest_ended():
    docs = {"sb": _doc([0.93], 20.0, 256), "lb": _doc([0.88], 3000.0, 4000)}
    train = {r: {"batch_size": d["batch_size"], **d["train"]} for r, d in docs.items()}
    sharpness = {r: d["sharpness"] for r, d in docs.items()}
    curves = {r: pd.DataFrame({"seed": 0, "epoch": range(11), "test_accuracy": [e / 100 for e in range(11)]}) for r in ("sb", "lb")}
    remedy = {"strategy": "matched", **_doc([0.9], 50.0, 4000)}
    remedy["train"]["test_accuracy_by_epoch"] = {"0": [[0, 0.1], [4, 0.5], [8, 0.7], [12, 0.9]]}  # a record every 4 epochs
    frame = gap_closed_frame(train, sharpness, [remedy], {}, curves)
    assert frame.attrs["equal_epochs"] == 10  # the plain runs' 10 epochs; the remedy lasted 12
    assert list(frame.accuracy_at_equal_epochs) == pytest.approx([10.0, 10.0, 70.0])  # the remedy's last record by epoch 10


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


def test_the_remedy_figures_name_every_point_in_a_legend_and_keep_blue_and_red_for_sb_and_lb():
    names = ["SB (plain Adam)", "LB (plain Adam)", *(f"remedy {i}" for i in range(12))]
    frame = pd.DataFrame({"training": names, "phi": [10.0 * (i + 1) for i in range(14)], "gap_closed": list(range(14)),
                          "updates": [100 * (i + 1) for i in range(14)], "test_accuracy": [90.0 + i / 10 for i in range(14)],
                          "seeds": [3, 3, 1, *[3] * 11]})
    for name, figure in gap_closed_figures(frame).items():
        axis = figure.axes[0]
        legend = [f"{n}, n = {k}" for n, k in zip(names, frame.seeds)]  # each point says how many seeds it averages
        assert [t.get_text() for t in axis.get_legend().get_texts()] == legend and not axis.texts, name
        colors = [tuple(to_rgba(c.get_facecolors()[0])[:3]) for c in axis.collections]
        plain = [tuple(to_rgba(COLORS[r])[:3]) for r in ("sb", "lb")]
        assert colors[:2] == plain and not set(colors[2:]) & set(plain), name
        markers = {(c, m.get_paths()[0].vertices.tobytes()) for c, m in zip(colors[2:], axis.collections[2:])}
        assert len(markers) == 12, "no two remedies share colour and marker"


def test_the_scaling_rule_that_fits_is_decided_by_the_paired_interval():
    linear = {"strategy": "linear_scaling", **_doc([0.80, 0.81, 0.79], 10.0, 4000)}
    sqrt = {"strategy": "sqrt_scaling", **_doc([0.76, 0.78, 0.76], 10.0, 4000)}  # linear better by 4, 3, 3 points
    text = scaling_rules_text([linear, sqrt], gap=5.0)
    interval = stats.ttest_rel([80.0, 81.0, 79.0], [76.0, 78.0, 76.0]).confidence_interval(0.95)
    assert "+3.33 points" in text and f"[{interval.low:.2f}, {interval.high:.2f}]" in text
    assert text.endswith("the linear rule fits better here.")
    tied = {"strategy": "sqrt_scaling", **_doc([0.81, 0.79, 0.80], 10.0, 4000)}
    assert scaling_rules_text([linear, tied], gap=5.0).endswith("the data do not separate the two rules.")
    assert scaling_rules_text([linear], gap=5.0) == ""


def test_the_tuning_table_marks_the_choice_its_sampling_error_and_a_choice_at_the_grid_edge():
    doc = {"strategy": "sam", "grid": {"rho": [0.02, 0.05, 0.1]}, "validation_samples": 2000, "chosen_trial": 2, "chosen": {"rho": 0.1},
           "trials": [{"options": {"rho": r}, "mean_validation_accuracy": a} for r, a in ((0.02, 0.77), (0.05, 0.79), (0.1, 0.81))]}
    nothing = {"strategy": "matched_updates", "grid": {}, "trials": [], "chosen": {}}
    table = tuning_table([doc, nothing])
    cells = _cells(table, "sam")
    assert cells["grid: validation accuracy (%), the choice in bold"] == "rho 0.02: 77.00; rho 0.05: 79.00; **rho 0.1: 81.00**"
    assert cells["s.e. (points)"] == f"{100 * (0.81 * 0.19 / 2000) ** 0.5:.2f}" and cells["at grid edge"] == "yes"
    assert _cells(table, "matched_updates")["chosen"] == "–"


def test_no_gap_to_close_gives_no_gap_closed_and_no_verdict():
    docs = {"sb": _doc([0.88, 0.87, 0.89], 10.0, 256), "lb": _doc([0.91, 0.90, 0.92], 10.0, 4000)}  # plain LB beats SB
    train = {r: {"batch_size": d["batch_size"], **d["train"]} for r, d in docs.items()}
    sharpness = {r: d["sharpness"] for r, d in docs.items()}
    worse = {"strategy": "worse", **_doc([0.89, 0.88, 0.90], 10.0, 4000)}
    row = gap_closed_frame(train, sharpness, [worse], {}).iloc[2]
    assert math.isnan(row.gap_closed) and math.isnan(row.gap_closed_low) and pd.isna(row.helps)
    cells = _cells(gap_closed_table(gap_closed_frame(train, sharpness, [worse], {})), "worse")
    assert (cells["gap closed (%)"], cells["95 % interval"], cells["helps"]) == ("–", "–", "–")
