"""lbgap.report.figures: each figure draws exactly the data it is given, on the axes it names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from lbgap.measures.landscape import PathPoint
from lbgap.report.figures import (
    COLORS,
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


def _points(axis) -> list[tuple[float, float]]:
    return [tuple(map(float, xy)) for collection in axis.collections for xy in collection.get_offsets()]


def test_every_seed_is_drawn_beside_its_mean_and_no_mean_hides_a_failed_seed():
    """Sharpness: one dot per seed and a marker at the mean, per regime and group (a failed seed's φ near 0
    stays visible below the mean); remedies: each method's LB seeds, its own SB control's where it has one,
    in SB's and LB's colours, and plain Adam's first."""
    per_seed = {"sb": {"full": {"eps_1e-03": [{"phi": 20.0}, {"phi": 30.0}]}},
                "lb": {"full": {"eps_1e-03": [{"phi": 3000.0}, {"phi": 0.0005}]}}}
    axis = sharpness_figure(per_seed, {"sb": 256, "lb": 4000}).axes[0]
    values = sorted(y for _, y in _points(axis))
    assert values == pytest.approx(sorted([20.0, 30.0, 25.0, 3000.0, 0.0005, 1500.00025]))
    assert axis.get_yscale() == "log" and "n = 2" in axis.get_title()
    rows = [{"name": "plain Adam", "sb": {"test_accuracy": [0.93, 0.94], "phi": [20.0, 30.0]}, "lb": {"test_accuracy": [0.88, 0.89], "phi": [3000.0, 2000.0]}},
            {"name": "sam", "lb": {"test_accuracy": [0.90], "phi": [1000.0]}, "sb": None},
            {"name": "sgd", "lb": {"test_accuracy": [0.91], "phi": [900.0]}, "sb": {"test_accuracy": [0.95], "phi": [10.0]}}]
    accuracy_axis, sharpness_axis = mitigation_figure(rows).axes
    assert [t.get_text() for t in accuracy_axis.get_yticklabels()] == ["plain Adam", "sam", "sgd"]
    accuracies = sorted(round(x, 6) for x, _ in _points(accuracy_axis))
    assert accuracies == sorted([93.0, 94.0, 93.5, 88.0, 89.0, 88.5, 90.0, 90.0, 91.0, 91.0, 95.0, 95.0])
    colors = {tuple(np.round(c[:3], 3)) for collection in accuracy_axis.collections
              for c in [*collection.get_facecolors(), *collection.get_edgecolors()]}
    assert colors == {tuple(np.round(to_rgba(COLORS[r])[:3], 3)) for r in ("sb", "lb")}, "SB's and LB's colours only"
    assert sharpness_axis.get_xscale() == "log"


def test_the_sweep_marks_the_threshold_and_shows_every_seed_beside_the_mean():
    frame = pd.DataFrame({"batch_size": [64, 4000], "test_accuracy_mean": [94.0, 88.0], "test_accuracy_std": [0.1, None],
                          "sharpness_mean": [20.0, 900.0], "sharpness_std": [1.0, None]})
    per_seed = pd.DataFrame({"batch_size": [64, 64, 4000, 4000], "test_accuracy": [93.9, 94.1, 87.0, 89.0],
                             "sharpness": [19.0, 21.0, 800.0, 1000.0]})
    figure = sweep_figure(frame, per_seed, 1500.0, 15)
    accuracy_axis, sharpness_axis = figure.axes
    assert any(np.allclose(line.get_xdata(), [1500.0, 1500.0]) for line in accuracy_axis.get_lines())
    assert accuracy_axis.get_xscale() == "log" and sharpness_axis.get_yscale() == "log" and "15 epochs" in accuracy_axis.get_title()
    assert "mean of 2 seeds" in accuracy_axis.get_title()
    assert sorted(_points(accuracy_axis)) == sorted(zip(per_seed.batch_size, per_seed.test_accuracy))  # a dot per seed, no caps
    assert sorted(_points(sharpness_axis)) == sorted(zip(per_seed.batch_size, per_seed.sharpness))
    assert not any(line.get_label().startswith("threshold") for line in sweep_figure(frame, per_seed, None, 15).axes[0].get_lines())


def test_warm_start_and_trajectory_plot_their_columns():
    warm = pd.DataFrame({"sb_epochs": [0, 4], "sb_test_accuracy": [0.1, 0.9], "lb_test_accuracy": [0.85, 0.92], "lb_sharpness": [900.0, 40.0]})
    accuracy_axis, sharpness_axis = warm_start_figure(warm, 256, 4000, 20, seed=0).axes
    assert accuracy_axis.get_title().endswith("seed 0")
    narrow = warm.assign(lb_sharpness=[850.0, 1500.0])  # under a decade: minor ticks labelled too
    _, axis = warm_start_figure(narrow, 256, 4000, 20, seed=0).axes
    axis.figure.canvas.draw()
    labels = {t.get_text() for t in axis.yaxis.get_minorticklabels() if t.get_text()}
    assert {"1200", "1500"} <= labels, labels
    np.testing.assert_allclose(accuracy_axis.get_lines()[1].get_ydata(), [85.0, 92.0])
    np.testing.assert_allclose(sharpness_axis.get_lines()[0].get_ydata(), [900.0, 40.0])
    sb = pd.DataFrame({"epoch": [0, 8], "train_loss": [2.3, 0.02], "sharpness": [43.0, 300.0]})
    lb = pd.DataFrame({"epoch": [0, 8], "train_loss": [2.3, 0.01], "sharpness": [43.0, 1700.0]})
    axis = trajectory_figure({"sb": sb, "lb": lb}, {"sb": 256, "lb": 4000}, seed=0).axes[0]
    assert axis.xaxis_inverted() and "seed 0" in axis.get_title()
    # the shared start (x0) labelled once; each label in its regime's colour, SB's and LB's on opposite sides
    assert [t.get_text() for t in axis.texts] == ["0", "8", "8"]
    assert [t.get_color() for t in axis.texts] == [COLORS["sb"], COLORS["sb"], COLORS["lb"]]
    assert axis.texts[1].get_position()[0] < 0 < axis.texts[2].get_position()[0]  # offsets in points
