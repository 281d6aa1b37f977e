"""docs/theory.md's account of the full grid quotes results/full-grid: each number is grid_summary.json's,
rounded as printed (a `_abs` path prints the value's magnitude), and the claims it makes in words about the
table hold in grid.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests import quoting
from tests.quoting import spaced

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs/theory.md"
RESULTS = REPO / "results/full-grid"

QUOTED = [
    "adjusted R² {sgd.temperature.r2_ratio:.2f} for SGD against {sgd.temperature.r2_lr:.2f} for η alone, "
    "{sgd.temperature.r2_batch:.2f} for B alone and {sgd.temperature.r2_both:.2f} for both.",
    "But SGD's fitted k is {sgd.temperature.k:.2f} [{sgd.temperature.k_low:.2f}, {sgd.temperature.k_high:.2f}], above the linear rule's 1:",
    "Adam's k is {adam.temperature.k:.2f} [{adam.temperature.k_low:.2f}, {adam.temperature.k_high:.2f}], above the square-root rule's ½",
    "SGD loses {sgd.batch_effect.per_doubling_abs:.2f} points of test accuracy per doubling of the batch "
    "[{sgd.batch_effect.high_abs:.2f}, {sgd.batch_effect.low_abs:.2f}];",
    "for Adam {adam.batch_effect.per_doubling_abs:.2f} points, an interval from a loss of {adam.batch_effect.low_abs:.2f} "
    "to a gain of {adam.batch_effect.high:.2f} that includes no effect.",
    "(slope on log η {sgd.sharpness_scaling.lr_slope:.2f} [{sgd.sharpness_scaling.lr_slope_low:.2f}, "
    "{sgd.sharpness_scaling.lr_slope_high:.2f}] for SGD, {adam.sharpness_scaling.lr_slope:.2f} for Adam)",
    "(slope on log B {sgd.sharpness_scaling.batch_slope:.2f} and {adam.sharpness_scaling.batch_slope:.2f})",
    "the median sharpness / threshold rises from {sgd.stability.64.median_ratio:.2f} at batch 64 to "
    "{sgd.stability.1000.median_ratio:.2f} at 1000 for SGD ({adam.stability.64.median_ratio:.2f} to "
    "{adam.stability.1000.median_ratio:.2f} for Adam).",
    "a median noise scale B_simple of {sgd.noise_scale_median:.0f} (SGD runs) and {adam.noise_scale_median:.0f} (Adam runs)",
]


def _summary() -> dict:
    return json.loads((RESULTS / "grid_summary.json").read_text())


def _value(path: str) -> float:
    magnitude = path.endswith("_abs")
    value = _summary()
    for key in (path[:-4] if magnitude else path).split("."):
        value = value[key]
    return abs(value) if magnitude else value


def _render(phrase: str) -> str:
    return quoting.render(phrase, _value)


@pytest.mark.parametrize("phrase", QUOTED)
def test_each_quoted_number_is_the_full_grids(phrase):
    assert _render(phrase) in spaced(PAGE.read_text()), f"docs/theory.md does not say: {_render(phrase)!r}"


def test_the_grid_as_the_page_describes_it():
    text, summary = spaced(PAGE.read_text()), _summary()
    run = json.loads((RESULTS / "run.json").read_text())
    table = pd.read_csv(RESULTS / "grid.csv")
    assert f"100 runs, {run['seconds'] / 60:.0f} min" in text and len(table) == 100
    assert sorted(table.batch_size.unique()) == [64, 128, 256, 512, 1000] and table.seed.nunique() == 2
    reached = {o: (summary[o]["reached"], summary[o]["runs"]) for o in ("sgd", "adam")}
    assert reached["sgd"] == reached["adam"] and f"{reached['sgd'][0]} of {reached['sgd'][1]} runs per optimizer reached" in text
    # "No run ended above its stability threshold"
    assert all(cell["above_edge"] == 0 for o in ("sgd", "adam") for cell in summary[o]["stability"].values())
    assert "No run ended above its stability threshold" in text
    # "(d) held for SGD" (its interval excludes 0); Adam's includes 0
    assert summary["sgd"]["batch_effect"]["high"] < 0 < summary["adam"]["batch_effect"]["high"] and summary["adam"]["batch_effect"]["low"] < 0
    # "(e) not tested": no critical batch fitted; samples to the target at the best η fall from 64 to 512 for SGD
    assert summary["sgd"]["critical_batch"] is None and summary["adam"]["critical_batch"] is None
    best = table[table.reached].groupby(["optimizer", "batch_size"]).steps.min()
    sgd = [best["sgd", b] * b for b in (64, 128, 256, 512)]
    assert sgd == sorted(sgd, reverse=True)
    adam = [best["adam", b] * b for b in (64, 128, 256, 512, 1000)]
    assert adam != sorted(adam, reverse=True) and adam != sorted(adam)  # "for Adam they are not monotone"
    # "the two slopes nearly cancel"
    assert abs(summary["sgd"]["sharpness_scaling"]["lr_slope"] + summary["sgd"]["sharpness_scaling"]["batch_slope"]) < 0.1
