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
    "(its k refitted with it: {sgd.batch_effect.k:.2f} for SGD, close to the linear rule),",
    "SGD loses {sgd.batch_effect.per_doubling_abs:.2f} points of test accuracy per doubling of the batch "
    "[{sgd.batch_effect.high_abs:.2f}, {sgd.batch_effect.low_abs:.2f}]",
    "for Adam {adam.batch_effect.per_doubling_abs:.2f} points, an interval from a loss of {adam.batch_effect.low_abs:.2f} "
    "to a gain of {adam.batch_effect.high:.2f} that includes no effect.",
    "adjusted R² {sgd.batch_effect.r2_adjusted:.2f} for SGD against {sgd.temperature.r2_ratio:.2f} for the temperature alone, "
    "because log(η/B^{sgd.temperature.k:.2f}) is log(η/B^{sgd.batch_effect.k:.2f}) minus half a log B",
    "adjusted R² {sgd.sharpness_temperature.r2_ratio:.2f} alone, {sgd.sharpness_temperature.r2_both:.2f} with η and B apart for SGD — "
    "with k {sgd.sharpness_temperature.k:.2f} [{sgd.sharpness_temperature.k_low:.2f}, {sgd.sharpness_temperature.k_high:.2f}] for SGD and "
    "{adam.sharpness_temperature.k:.2f} [{adam.sharpness_temperature.k_low:.2f}, {adam.sharpness_temperature.k_high:.2f}] for Adam",
    "(slope on log η {sgd.sharpness_scaling.lr_slope:.2f} [{sgd.sharpness_scaling.lr_slope_low:.2f}, "
    "{sgd.sharpness_scaling.lr_slope_high:.2f}] for SGD, {adam.sharpness_scaling.lr_slope:.2f} for Adam)",
    "(slope on log B {sgd.sharpness_scaling.batch_slope:.2f} and {adam.sharpness_scaling.batch_slope:.2f})",
    "the median sharpness / threshold rises from {sgd.stability.64.median_ratio:.2f} at batch 64 to "
    "{sgd.stability.1000.median_ratio:.2f} at 1000 for SGD ({adam.stability.64.median_ratio:.2f} to "
    "{adam.stability.1000.median_ratio:.2f} for Adam).",
    "the steps to the target fall with a slope of {sgd.steps_scaling.slope:.2f} [{sgd.steps_scaling.slope_low:.2f}, "
    "{sgd.steps_scaling.slope_high:.2f}] on log₂ B for SGD ({adam.steps_scaling.slope:.2f} for Adam)",
    "steps ratio per doubling {sgd.steps_scaling.per_doubling.0.ratio:.2f}, {sgd.steps_scaling.per_doubling.1.ratio:.2f}, "
    "{sgd.steps_scaling.per_doubling.2.ratio:.2f} and {sgd.steps_scaling.per_doubling.3.ratio:.2f} for SGD "
    "({adam.steps_scaling.per_doubling.0.ratio:.2f}, {adam.steps_scaling.per_doubling.1.ratio:.2f}, "
    "{adam.steps_scaling.per_doubling.2.ratio:.2f} and {adam.steps_scaling.per_doubling.3.ratio:.2f} for Adam;",
    "{sgd.edge_along_training.1000.peak_ratio_max:.2f} at its peak, the largest record of SGD; Adam's is "
    "{adam.edge_along_training.1000.peak_ratio_max:.2f}).",
    "The median peak after x0 is {sgd.edge_along_training.64.peak_ratio_median:.2f}, {sgd.edge_along_training.128.peak_ratio_median:.2f}, "
    "{sgd.edge_along_training.256.peak_ratio_median:.2f}, {sgd.edge_along_training.512.peak_ratio_median:.2f}, "
    "{sgd.edge_along_training.1000.peak_ratio_median:.2f} at batch 64 to 1000 for SGD ({adam.edge_along_training.64.peak_ratio_median:.2f}, "
    "{adam.edge_along_training.128.peak_ratio_median:.2f}, {adam.edge_along_training.256.peak_ratio_median:.2f}, "
    "{adam.edge_along_training.512.peak_ratio_median:.2f}, {adam.edge_along_training.1000.peak_ratio_median:.2f} for Adam)",
    "median {sgd.noise_scale_median:.0f} (quartiles {sgd.noise_scale_quartiles.0:.0f}–{sgd.noise_scale_quartiles.1:.0f}) for SGD and "
    "{adam.noise_scale_median:.0f} ({adam.noise_scale_quartiles.0:.0f}–{adam.noise_scale_quartiles.1:.0f}) for Adam",
]


def _summary() -> dict:
    return json.loads((RESULTS / "grid_summary.json").read_text())


def _value(path: str) -> float:
    magnitude = path.endswith("_abs")
    value = _summary()
    for key in (path[:-4] if magnitude else path).split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
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
    first, second = run["sittings"]
    assert f"the SGD cells in about {first['seconds'] / 60:.0f} min with other jobs on the machine, the Adam cells in {second['seconds'] / 60:.0f} min" in text
    assert f"so {run['seconds'] / 60:.0f} min overstates what the grid needs" in text and run["seconds"] == first["seconds"] + second["seconds"]
    assert first["cells"].startswith("sgd") and second["cells"].startswith("adam")
    assert len(table) == 100
    assert sorted(table.batch_size.unique()) == [64, 128, 256, 512, 1000] and table.seed.nunique() == 2
    reached = {o: (summary[o]["reached"], summary[o]["runs"]) for o in ("sgd", "adam")}
    assert reached["sgd"] == reached["adam"] and f"{reached['sgd'][0]} of {reached['sgd'][1]} runs per optimizer reached" in text
    # "No run ended above its stability threshold"
    assert all(cell["above_edge"] == 0 for o in ("sgd", "adam") for cell in summary[o]["stability"].values())
    assert "No run ended above its stability threshold" in text
    # "(d) held for SGD" (its interval excludes 0); Adam's includes 0
    assert summary["sgd"]["batch_effect"]["high"] < 0 < summary["adam"]["batch_effect"]["high"] and summary["adam"]["batch_effect"]["low"] < 0
    # "(e) not tested": no critical batch fitted
    assert summary["sgd"]["critical_batch"] is None and summary["adam"]["critical_batch"] is None
    # "Counted in passes over the data, the best SGD runs need fewer as the batch grows to 256 and about as many beyond" — the learning rate with the fewest steps (mean over the seeds that reached the target) at each batch size
    cells = table[table.reached & (table.optimizer == "sgd")].groupby(["batch_size", "learning_rate"])[["steps", "epochs"]].mean()
    best = cells.loc[cells.groupby(level=0).steps.idxmin()].droplevel(1).epochs
    assert f"about {best[64]:.0f} epochs at batch 64, {best[128]:.0f} at 128, {best[256]:.0f} at 256, {best[512]:.0f} at 512 and {best[1000]:.0f} at 1000" in text
    assert best[64] > best[128] > best[256] and all(abs(best[b] - best[256]) < 2 for b in (512, 1000))  # "fewer to 256, about as many beyond"
    # "fits these steps only with a negative S_min"
    assert all("fitted S_min -" in summary[o]["critical_batch_why_not"] for o in ("sgd", "adam"))
    # "B_crit ≈ B_simple near the top of the grid"
    assert all(512 < summary[o]["noise_scale_median"] <= 1000 for o in ("sgd", "adam"))
    # "a steeper exponent and a batch penalty at the linear one describe these runs about equally well"
    assert abs(summary["sgd"]["batch_effect"]["r2_adjusted"] - summary["sgd"]["temperature"]["r2_ratio"]) < 0.05
    # the sharpness's exponents are not the accuracy's
    for optimizer in ("sgd", "adam"):
        sharp, accuracy = summary[optimizer]["sharpness_temperature"], summary[optimizer]["temperature"]
        assert sharp["k_high"] < accuracy["k_low"] or sharp["k_low"] > accuracy["k_high"]
    # "the two slopes nearly cancel"
    assert abs(summary["sgd"]["sharpness_scaling"]["lr_slope"] + summary["sgd"]["sharpness_scaling"]["batch_slope"]) < 0.1
    # "Along training no run came near the edge either: ... both at batch 1000, and no record reached 0.8 of the threshold.
    # At batch 64 SGD's ratio is largest at x0 and falls; at batch 1000 it rises"
    edge = {o: summary[o]["edge_along_training"] for o in ("sgd", "adam")}
    for optimizer, cells in edge.items():
        assert max(cells, key=lambda b: cells[b]["peak_ratio_max"]) == "1000", optimizer
        assert all(cell["above_edge"] == 0 and cell["near_edge"] == 0 for cell in cells.values()), optimizer
    assert edge["sgd"]["64"]["start_ratio_median"] > edge["sgd"]["64"]["peak_ratio_median"]
    assert edge["sgd"]["1000"]["start_ratio_median"] < edge["sgd"]["1000"]["peak_ratio_median"]
    edges = pd.read_csv(RESULTS / "grid_edge.csv")
    assert "-S grid.edge_every=5" in run["command"] and (edges[~edges.end].epoch % 5 == 0).all()  # "recorded every 5 epochs"
    assert set(edges.seed) == {table.seed.min()}  # "on the first seed's runs"
    # "Larger batches end nearer the edge": the median ratio where the runs ended rises with the batch
    for optimizer in ("sgd", "adam"):
        medians = [summary[optimizer]["stability"][b]["median_ratio"] for b in ("64", "128", "256", "512", "1000")]
        assert medians == sorted(medians), optimizer
    # "no record came near the edge": every record of every traced run, those that missed the target too, below 0.8
    assert edges.stability_ratio.max() < 0.8
    # "SGD's ratio there depends on η alone (… at η 0.01 to … at 0.25)": one x0, so one ratio per η whatever the batch
    start = edges[(edges.epoch == 0) & ~edges.end & (edges.optimizer == "sgd")]
    spread = start.groupby("learning_rate").stability_ratio.agg(lambda r: r.max() / r.min())
    assert (spread < 1.01).all() and edges[(edges.optimizer == "adam") & (edges.epoch == 0) & ~edges.end].stability_ratio.isna().all()
    by_lr = start.groupby("learning_rate").stability_ratio.median()
    assert f"({by_lr.iloc[0]:.2f} at η {by_lr.index[0]:g} to {by_lr.iloc[-1]:.2f} at {by_lr.index[-1]:g};" in text
    # "runs that start above it fall to it, runs below rise toward it … with one exception at batch 1000 (η 0.25: … at x0, … at its peak)"
    level = {int(b): cell["peak_ratio_median"] for b, cell in edge["sgd"].items()}
    exceptions = []
    for (batch, lr), run in edges[edges.optimizer == "sgd"].groupby(["batch_size", "learning_rate"]):
        at_x0 = run[(run.epoch == 0) & ~run.end].stability_ratio.iloc[0]
        peak = run[(run.epoch > 0) | run.end].stability_ratio.max()
        if (at_x0 > level[batch]) != (peak < at_x0):
            exceptions.append((batch, lr, round(at_x0, 2), round(peak, 2)))
    assert exceptions == [(1000, 0.25, round(by_lr[0.25], 2), round(edge["sgd"]["1000"]["peak_ratio_max"], 2))], exceptions
    # "about double at each doubling of B"
    for optimizer in ("sgd", "adam"):
        peaks = [edge[optimizer][b]["peak_ratio_median"] for b in ("64", "128", "256", "512", "1000")]
        assert all(1.5 < later / earlier < 2.3 for earlier, later in zip(peaks, peaks[1:])), optimizer
    # "38/η for Adam's preconditioned sharpness", "3.8/η for SGD with momentum 0.9"
    assert "3.8/η for SGD with momentum 0.9, 38/η for Adam" in text
    # log φ's exponent: "near each optimizer's rule (1 and ½) but not at it"
    for optimizer, rule in (("sgd", 1.0), ("adam", 0.5)):
        k = summary[optimizer]["sharpness_temperature"]
        assert not k["k_low"] <= rule <= k["k_high"] and abs(k["k"] - rule) < 0.25, optimizer
    # "η still matters at large batches: at batch 1000 the peak after x0 runs from … at η 0.022 to … at 0.25"
    at_1000 = edges[(edges.optimizer == "sgd") & (edges.batch_size == 1000)]
    peak = at_1000[(at_1000.epoch > 0) | at_1000.end].groupby("learning_rate").stability_ratio.max()
    assert f"the peak after x0 runs from {peak[0.022]:.2f} at η 0.022 to {peak[0.25]:.2f} at 0.25" in text
    assert peak[0.022] == peak[peak.index > 0.01].min() and peak[0.25] == peak.max()
