"""docs/results.md quotes the committed default run: every number it prints from a run is metrics/summary.json's,
rounded as printed, and no other number from a run appears there (what is left after the quoted phrases are
taken out holds only the study's settings and the papers' values)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests import quoting
from tests.quoting import spaced

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs/results.md"

# Each phrase as the page prints it (line breaks and spaces compare as one space); {dotted.path:format} is a
# value of metrics/summary.json, {path/path:format} the ratio of two
QUOTED = [
    "train accuracy SB {train_acc_pct.sb:.2f} %, LB {train_acc_pct.lb:.2f} %",
    "LB tests {test_acc_pct.lb:.2f} % against SB's {test_acc_pct.sb:.2f} %: {test_acc_pct.gap:.2f} points",
    "LB/SB {sharpness.full.eps_1e-03.lb_over_sb:.1f}× in the full space at ε = 1e-3",
    "{sharpness.full.eps_5e-04.lb_over_sb:.0f}× at ε = 5e-4; {sharpness.subspace.eps_1e-03.lb_over_sb:.0f}× and "
    "{sharpness.subspace.eps_5e-04.lb_over_sb:.0f}× in the random 100-dimensional subspace",
    "full-space φ at ε = 1e-3 to be {sharpness.full.eps_1e-03.paper_protocol.sb:.0f} where the validated search finds "
    "{sharpness.full.eps_1e-03.sb:.0f}",
    "ratio at ε = 1e-3 is {sharpness.full.eps_1e-03.paper_protocol.lb_over_sb:.0f}×",
    "‖x_SB − x0‖ / ‖x_LB − x0‖ = {distance_ratio.mean:.2f}",
    "There SB tests {at_target_loss.test_acc_pct.sb:.2f} % and LB {at_target_loss.test_acc_pct.lb:.2f} %",
    "{at_target_loss.sharpness.full.eps_1e-03.lb_over_sb:.1f}× in the full space at ε = 1e-3 "
    "(SB {at_target_loss.sharpness.full.eps_1e-03.sb:.3g}, LB {at_target_loss.sharpness.full.eps_1e-03.lb:.0f}) and "
    "{at_target_loss.sharpness.subspace.eps_1e-03.lb_over_sb:.1f}× in the subspace",
    "(LB/SB {at_target_loss.curvature.lambda_1:.2f} for λ_max, {at_target_loss.curvature.trace:.2f} for the trace)",
    "calls SB sharper there ({at_target_loss.curvature.adaptive_eta_0:.2f})",
    "fires at {sweep.threshold_batch:d}, by interpolation at about {sweep.threshold_crossing:.0f}",
    "{warm_start.sb_epochs_0.lb_test_acc_pct:.2f} % test accuracy and φ {warm_start.sb_epochs_0.lb_sharpness:.0f} from x0, "
    "{warm_start.sb_epochs_20.lb_test_acc_pct:.2f} % and φ {warm_start.sb_epochs_20.lb_sharpness:.0f} after 20 SB epochs",
    "to {trajectory.lb.final_sharpness:.0f} at epoch 32, where SB's is {trajectory.sb.final_sharpness:.0f}",
    "LB/SB is {curvature.lambda_1:.2f} for the top Hessian eigenvalue, {curvature.trace:.2f} for the trace, "
    "{curvature.inverse_sigma_sq_magnitude:.2f} for the magnitude-aware PAC-Bayes 1/σ²",
    "the adaptive sharpness too ({curvature.adaptive_eta_0:.2f} for η = 0)",
    "ranks it within batch size ({predictors.train_loss.tau_gap_within:+.2f}, an interval above 0)",
    "(τ {predictors.phi_full_eps_1e-03.tau_gap_within:+.2f} in the full space at ε = 1e-3), λ_max and tr H less strongly "
    "({predictors.lambda_max.tau_gap_within:+.2f}, {predictors.trace.tau_gap_within:+.2f}), and the PAC-Bayes 1/σ², "
    "absolute and magnitude-aware, share the highest point estimate with φ at ε = 5e-4 "
    "({predictors.inverse_sigma_sq_absolute.tau_gap_within:+.2f}, {predictors.inverse_sigma_sq_magnitude.tau_gap_within:+.2f}, "
    "{predictors.phi_full_eps_5e-04.tau_gap_within:+.2f}; the intervals overlap); the distance from x0 ranks inversely "
    "({predictors.distance_from_x0.tau_gap_within:+.2f}), the gradient noise scale does not rank "
    "({predictors.noise_scale.tau_gap_within:+.2f})",
]

# Numbers the page prints that are not from the run: the network and the study's settings (params.yaml),
# the papers' values, years and the like
SETTINGS = [
    "40 → 3 × 256 → 10", "10,000\ntraining samples", "3 seeds", "SB batch 256, LB batch 1000", "ε = 5e-4", "0.01", "0.2 points",
    "2–5", "3–10", "100-dimensional", "a batch ratio of 4 where the paper's is about 20", "15 epochs", "2 seeds", "1 point",
    "0–20 epochs", "20 LB epochs", "100-epoch", "2017", "2000 training", "5 seeds", "SB 256, LB 6000", "η = 0", "10 iterations",
    "3 seeds each at LB batch 1000", "3-point grid", "a 95 % interval", "MNIST-1D", "128 samples", "sub-batch of 128", "ρ = 0",
    "F1", "MNIST", "x0", "1/σ²", "LB/SB", "2020", "its 15 epochs", "1e-3", "(70–180×)", "after epoch 16",
    "4 batch sizes × 2 learning rates × 2 widths × 2 depths × 2 weight decays × 2 dropout rates, 2 seeds each",
    "at batch 128 with η 0.2, stopped at the 120-epoch cap", "ψ above 0 on every axis", "ψ near 0", "steps from cross-entropy 0.1 to 0.01",
    "sign error of 1.0", "(2023)",
    "in 15 epochs", "batch 64", "100-epoch", "100 % training accuracy", "training loss 0.1 to the target", "fewer updates from 0.1 to 0.01",
]


def _summary_value(path: str) -> float:
    value = json.loads((REPO / "metrics/summary.json").read_text())
    for key in path.split("."):
        value = value[key]
    return value


def _value(expression: str) -> float:
    numerator, _, denominator = expression.partition("/")
    return _summary_value(numerator) / _summary_value(denominator) if denominator else _summary_value(numerator)


def _render(phrase: str) -> str:
    return quoting.render(phrase, _value)


@pytest.mark.parametrize("phrase", QUOTED)
def test_each_quoted_number_is_the_committed_runs(phrase):
    assert _render(phrase) in spaced(PAGE.read_text()), f"docs/results.md does not say: {_render(phrase)!r}"


def test_no_other_number_from_a_run_is_quoted():
    from tests.test_remedies_numbers import PARAGRAPHS as REMEDY_PARAGRAPHS, render as render_remedies  # all-remedies', its own test
    from tests.test_study_numbers import PARAGRAPHS as STUDY_PARAGRAPHS, render as render_study  # the designed study's, its own test

    rest = spaced(PAGE.read_text())
    for phrase in QUOTED:
        rest = rest.replace(_render(phrase), " ")
    for phrase in STUDY_PARAGRAPHS:
        rest = rest.replace(spaced(render_study(phrase)), " ")
    for phrase in REMEDY_PARAGRAPHS:
        rest = rest.replace(spaced(render_remedies(phrase)), " ")
    for phrase in _predictor_phrases():
        rest = rest.replace(phrase, " ")
    rest = re.sub(r"\([^()]*\.md[^()]*\)|`[^`]*`|\[[^\]]*\]\([^)]*\)", " ", rest)  # links and code name files
    for setting in sorted(SETTINGS, key=len, reverse=True):
        rest = rest.replace(spaced(setting), " ")
    left = re.findall(r"\d[\d.,]*\s?[%×]?", rest)
    assert not left, f"numbers in docs/results.md neither quoted from metrics/summary.json nor settings: {left}"


def _within(doc: dict) -> dict[str, dict]:
    return {t["measure"]: t for t in doc["tau"] if t["target"] == "gap" and t["scope"] == "within"}


def _predictor_phrases() -> list[str]:
    """The predictors paragraph's numbers that metrics/summary.json does not hold: the control's τ at the target loss
    (metrics/predictors.json) and the run of every remedy's control and φ (results/all-remedies/summary.json)."""
    at_target = _within(json.loads((REPO / "metrics/predictors.json").read_text())["at_target_loss"])
    everything = json.loads((REPO / "results/all-remedies/summary.json").read_text())["predictors"]
    values = {"target": at_target["train_loss"]["tau"], "reached": at_target["train_loss"]["solutions"],
              "control": everything["train_loss"]["tau_gap_within"], "phi": everything["phi_full_eps_1e-03"]["tau_gap_within"],
              "magnitude": everything["inverse_sigma_sq_magnitude"]["tau_gap_within"]}
    return [quoting.render(phrase, values.__getitem__) for phrase in (
        "over the {reached:d} solutions that reach it, each just under 0.01 ({target:+.2f})",
        "the control is flat ({control:+.2f} within batch size) while φ falls to {phi:+.2f} and the magnitude-aware 1/σ² "
        "holds {magnitude:+.2f}")]


def test_the_predictor_paragraph_quotes_the_stage_and_the_run_of_every_remedy():
    for phrase in _predictor_phrases():
        assert phrase in spaced(PAGE.read_text()), f"docs/results.md does not say: {phrase!r}"


def test_the_predictor_claims_in_words_hold():
    """The predictors paragraph's statements in words, against metrics/predictors.json and plots/predictors.csv: the
    control ranks within batch size (interval above 0) also at the target loss, where the ranked solutions' training
    loss is just under 0.01; the LB group holds most of them and its families; the sweep and augmentation are left
    out; the noise scale does not rank, the distance ranks inversely; the top point estimates and their overlap; the
    run of every remedy has several times the ranked solutions and a control whose interval includes 0."""
    import pandas as pd

    doc = json.loads((REPO / "metrics/predictors.json").read_text())
    within, at_target = _within(doc), _within(doc["at_target_loss"])
    assert within["train_loss"]["low"] > 0 and at_target["train_loss"]["low"] > 0
    assert within["noise_scale"]["low"] < 0 < within["noise_scale"]["high"]
    assert within["distance_from_x0"]["high"] < 0
    assert within["phi_full_eps_1e-03"]["tau"] > max(within["lambda_max"]["tau"], within["trace"]["tau"])
    top = max(within, key=lambda m: within[m]["tau"])
    tied = {m for m, t in within.items() if round(t["tau"], 2) == round(within[top]["tau"], 2)}
    assert tied == {"inverse_sigma_sq_absolute", "inverse_sigma_sq_magnitude", "phi_full_eps_5e-04"}
    assert within["phi_full_eps_1e-03"]["high"] > within[top]["low"]  # "the intervals overlap"
    table = pd.read_csv(REPO / "plots/predictors.csv")
    final, target = table[(table.point == "final") & table.included], table[(table.point == "target") & table.included]
    assert target.train_loss.between(0.009, 0.01).all()  # "just under 0.01"
    batch = yaml.safe_load((REPO / "params.yaml").read_text())["batch"]
    assert doc["batch_sizes"][str(batch)] > doc["included"] / 2  # "most of them in the LB group"
    assert set(final[final.batch_size == batch].family) == {"lb", "linear_scaling", "warm_start"}
    left_out = set(table[(table.point == "final") & ~table.included].family)
    assert left_out == {"sweep", "augmentation", "augmentation sb"} and not final.family.str.startswith("augmentation").any()
    sweep = table[(table.point == "final") & (table.family == "sweep")]
    assert (~sweep.included).sum() > sweep.included.sum() > 0  # "most of the sweep's fixed-budget runs"
    counts = {}
    for name, report in (("default", REPO / "report.md"), ("every remedy", REPO / "results/all-remedies/report.md")):
        counts[name] = int(re.search(r"(\d+) of \d+ solutions reach 99 %", report.read_text()).group(1))
    assert counts["every remedy"] >= 3 * counts["default"]  # "several times the ranked solutions"
    everything = json.loads((REPO / "results/all-remedies/summary.json").read_text())["predictors"]
    best = max(everything, key=lambda m: everything[m]["tau_gap_within"])
    assert best == "inverse_sigma_sq_magnitude"  # "… holds", the top there
    # "the control is flat": its within-batch interval in that run's table ("| train loss (control) | all | within | …")
    row = next(line for line in (REPO / "results/all-remedies/report.md").read_text().splitlines()
               if line.startswith("| train loss (control)"))
    low, high = map(float, re.search(r"\[([-+.\d]+), ([-+.\d]+)\]", row.split("|")[3]).groups())
    assert low < 0 < high
