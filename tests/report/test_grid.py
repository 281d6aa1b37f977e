"""lbgap.report.grid: the grid's section names every prediction with its interval or says why it is missing,
and its figure draws every run where the table puts it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lbgap.experiments.grid_analysis import EDGE_COLUMNS, grid_summary
from lbgap.report.grid import NOT_SHOWN, grid_figure, grid_section_text

GRID = {"optimizers": ["sgd", "adam"], "batches": [64, 256, 1024, 4096], "learning_rates": {"sgd": [0.01, 0.1], "adam": [1e-3]},
        "seeds": 2, "max_epochs": 60, "edge_every": 5}


def _table() -> pd.DataFrame:
    generator = np.random.default_rng(0)
    lr, batch = np.meshgrid(np.logspace(-3, -1, 5), GRID["batches"], indexing="ij")
    lr, batch = np.repeat(lr.ravel(), 2), np.repeat(batch.ravel(), 2)
    z = np.log(lr) - np.log(batch)
    sgd = pd.DataFrame({"optimizer": "sgd", "learning_rate": lr, "batch_size": batch, "reached": True, "diverged": False,
                        "test_accuracy": 90 - (z - z.mean()) ** 2 + 0.2 * generator.standard_normal(len(z)),
                        "steps": np.round(300 * (1 + 400 / batch)), "training_sharpness": 3.8 / lr, "stability_ratio": 1.0})
    adam = sgd.iloc[:4].assign(optimizer="adam")  # too few runs for any fit
    sgd.loc[0, "reached"] = False
    return pd.concat([sgd, adam], ignore_index=True)


def _edge() -> pd.DataFrame:
    """Two traced sgd runs at batch 64 that reached the target (one crossing its edge after x0), one at 4096;
    records every 5 epochs from x0, then where each ended."""
    rows = [("sgd", 64, 0.1, 0, 5 * i, 1.0, 0, r, False, True) for i, r in enumerate([0.1, 0.6, 1.4, 0.8])]
    rows += [("sgd", 64, 0.1, 0, 17.5, 1.0, 0, 0.5, True, True)]
    rows += [("sgd", 64, 0.01, 0, 5 * i, 1.0, 0, r, False, True) for i, r in enumerate([0.05, 0.2, 0.3])]
    rows += [("sgd", 4096, 0.1, 0, 5 * i, 1.0, 0, r, False, True) for i, r in enumerate([0.01, 0.05])]
    return pd.DataFrame(rows, columns=EDGE_COLUMNS)


def test_the_section_has_each_prediction_or_why_not_and_the_figure_every_run():
    table = _table()
    summary = grid_summary(table, _edge(), resamples=50, confidence=0.95, seed=0)
    text = grid_section_text(table, summary, GRID, 0.01, 0.95, lambda name: f"figures/{name}.png")
    assert "with its 95 % bootstrap interval" in text
    assert "## Why large batches find sharp minima" in text and NOT_SHOWN in text and "](figures/grid.png)" in text
    assert f"{len(table[table.optimizer == 'sgd']) - 1} of 40" in text
    k = summary["sgd"]["temperature"]
    assert f"{k['k']:.2f} [{k['k_low']:.2f}, {k['k_high']:.2f}]" in text  # sgd's k with its interval
    steps = summary["sgd"]["steps_scaling"]
    assert f"{steps['slope']:.2f} [{steps['slope_low']:.2f}, {steps['slope_high']:.2f}]" in text  # the steps' slope, interval
    first = steps["per_doubling"][0]
    assert f"{first['from']}→{first['to']}: {first['ratio']:.2f} [{first['low']:.2f}, {first['high']:.2f}]" in text
    assert f"{summary['sgd']['batch_effect']['r2_adjusted']:.2f} (k {summary['sgd']['batch_effect']['k']:.2f})" in text
    unreached = ", ".join(f"{b}: {n}" for b, n in summary["sgd"]["unreached_by_batch"].items())
    assert f"| {unreached}; 0 " in text and "by batch size: median (share above 1)" in text
    # adam's fits are missing, and say why (the batch effect because the exponent is)
    assert "Not fitted: " in text and "adam temperature: the fit needs at least 6 distinct" in text and "adam batch effect: the fit needs" in text
    # sgd's x0 ratios (0.1, 0.05) → peaks after x0 (1.4, 0.3); one run above 1; records ≥ 0.8: 1.4, 0.8 of 6
    assert "64: 0.08 → 0.85 (1.40; 50 %; 33 %), 4096: 0.01 → 0.05 (0.05; 0 %; 0 %)" in text
    assert "at the start, every 5 epochs and where they ended" in text
    figure = grid_figure(table, summary, _edge())
    assert len(figure.axes) == 6
    along = figure.axes[4]  # sgd's bottom panel: one line per traced run, the edge at 1
    assert along.get_yscale() == "log" and sum(len(line.get_xdata()) for line in along.lines) >= 5 + 3 + 2
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in along.lines)
    assert "no ratio recorded along training" in figure.axes[5].texts[0].get_text()
    assert "dashed: missed the target" not in [t.get_text() for t in along.get_legend().get_texts()]  # every traced run reached it
    missing = _edge().assign(reached=lambda e: e.batch_size != 4096)
    labels = [t.get_text() for t in grid_figure(table, summary, missing).axes[4].get_legend().get_texts()]
    assert "dashed: missed the target" in labels  # the dashed line of a run that missed it is named
    assert "not recorded: `grid.edge_every` is 0" in grid_section_text(table, summary, {**GRID, "edge_every": 0}, 0.01, 0.95, str)
    accuracy_axis = figure.axes[0]
    drawn = sum(len(c.get_offsets()) for c in accuracy_axis.collections)
    assert drawn == len(table[table.optimizer == "sgd"])  # every sgd run, reached or not
    assert "k = " in accuracy_axis.get_xlabel() and figure.axes[2].get_xscale() == "log"


def test_the_figure_of_a_grid_where_no_run_reached_the_target_says_so():
    table = _table().assign(reached=False)
    figure = grid_figure(table, grid_summary(table, resamples=10, confidence=0.9, seed=0), _edge().iloc[:0])
    assert "no run reached the target" in figure.axes[2].texts[0].get_text() and figure.axes[2].get_xscale() == "linear"
