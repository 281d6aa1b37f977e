"""lbgap.report.figures: each figure draws exactly the data it is given, on the axes it names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lbgap.measures.landscape import PathPoint
from lbgap.report.figures import (
    interpolation_figure,
    mitigation_figure,
    sharpness_figure,
    sweep_figure,
    training_curves_figure,
    trajectory_figure,
    warm_start_figure,
)


def _lines(axis) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata())) for line in axis.get_lines()}


def test_the_parametric_plot_draws_loss_and_accuracy_against_alpha():
    points = [PathPoint(alpha=a, train_loss=0.1 + a * a, test_loss=0.2 + a * a, train_accuracy=0.9, test_accuracy=0.8) for a in (-1.0, 0.0, 1.0)]
    figure = interpolation_figure(points, "SB → LB", curvilinear=True)
    loss_axis, accuracy_axis = figure.axes
    lines = _lines(loss_axis)
    np.testing.assert_allclose(lines["train loss"][1], [1.1, 0.1, 1.1])
    np.testing.assert_allclose(_lines(accuracy_axis)["test accuracy"][1], [80.0, 80.0, 80.0])
    assert loss_axis.get_yscale() == "log" and "sin(απ/2)" in loss_axis.get_xlabel()


def test_training_curves_draw_one_line_per_seed_split_and_regime():
    frame = pd.DataFrame({"seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1], "train_accuracy": [0.1, 0.5, 0.2, 0.6],
                          "test_accuracy": [0.1, 0.4, 0.2, 0.5], "train_loss": [2.0, 1.0, 2.1, 0.9], "test_loss": [2.0, 1.2, 2.1, 1.1]})
    figure = training_curves_figure({"sb": frame, "lb": frame}, {"sb": 256, "lb": 4000})
    accuracy_axis, loss_axis = figure.axes
    assert len(accuracy_axis.get_lines()) == len(loss_axis.get_lines()) == 2 * 2 * 2
    np.testing.assert_allclose(accuracy_axis.get_lines()[0].get_ydata(), [10.0, 50.0])  # seed 0, train, in percent


def test_bar_charts_show_means_with_their_std():
    stats = {"mean": 10.0, "std": 2.0}
    summaries = {r: {"full": {"eps_1e-03": {"phi": stats}}, "subspace": {"eps_1e-03": {"phi": {"mean": 1.0, "std": None}}}} for r in ("sb", "lb")}
    axis = sharpness_figure(summaries, {"sb": 256, "lb": 4000}).axes[0]
    assert [round(bar.get_height(), 6) for bar in axis.patches] == [10.0, 1.0, 10.0, 1.0]
    rows = [{"name": "SB (batch 256)", "test_accuracy": {"mean": 0.9, "std": 0.01}, "phi": stats},
            {"name": "LB + sam", "test_accuracy": {"mean": 0.85, "std": None}, "phi": stats}]
    accuracy_axis, sharpness_axis = mitigation_figure(rows).axes
    assert [round(bar.get_height(), 6) for bar in accuracy_axis.patches] == [90.0, 85.0]
    assert [t.get_text() for t in accuracy_axis.get_xticklabels()] == ["SB (batch 256)", "LB + sam"]


def test_the_sweep_marks_the_threshold_and_keeps_both_curves():
    frame = pd.DataFrame({"batch_size": [64, 4000], "test_accuracy_mean": [94.0, 88.0], "test_accuracy_std": [0.1, None],
                          "sharpness_mean": [20.0, 900.0], "sharpness_std": [1.0, None]})
    figure = sweep_figure(frame, 1500.0, 15)
    accuracy_axis, sharpness_axis = figure.axes
    assert any(np.allclose(line.get_xdata(), [1500.0, 1500.0]) for line in accuracy_axis.get_lines())
    assert accuracy_axis.get_xscale() == "log" and sharpness_axis.get_yscale() == "log" and "15 epochs" in accuracy_axis.get_title()
    assert not any(line.get_label().startswith("threshold") for line in sweep_figure(frame, None, 15).axes[0].get_lines())


def test_warm_start_and_trajectory_plot_their_columns():
    warm = pd.DataFrame({"sb_epochs": [0, 4], "sb_test_accuracy": [0.1, 0.9], "lb_test_accuracy": [0.85, 0.92], "lb_sharpness": [900.0, 40.0]})
    accuracy_axis, sharpness_axis = warm_start_figure(warm, 256, 4000, 20).axes
    np.testing.assert_allclose(accuracy_axis.get_lines()[1].get_ydata(), [85.0, 92.0])
    np.testing.assert_allclose(sharpness_axis.get_lines()[0].get_ydata(), [900.0, 40.0])
    along = pd.DataFrame({"epoch": [0, 8], "train_loss": [2.3, 0.01], "sharpness": [43.0, 1700.0]})
    axis = trajectory_figure({"lb": along}, {"lb": 4000}).axes[0]
    assert axis.xaxis_inverted() and [t.get_text() for t in axis.texts] == ["0", "8"]
