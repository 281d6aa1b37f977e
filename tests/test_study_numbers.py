"""docs/results.md's account of the designed study quotes results/study-grid: each number is
study_summary.json's, rounded as printed, and its claims in words hold there (no measure passes the rule, the
excluded runs, which axes carry the sharpness measures' ranking)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lbgap.experiments.study_statistics import hoeffding_margin
from tests import quoting
from tests.quoting import spaced

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs/results.md"
SUMMARY = REPO / "results/study-grid/study_summary.json"
SHARPNESS = ["phi_full_eps_1e-03", "phi_full_eps_5e-04", "phi_subspace_eps_1e-03", "phi_subspace_eps_5e-04", "lambda_max",
             "trace", "inverse_sigma_sq_absolute"]

# {name.field:format} is the score row `name`'s field; {name.field|abs:format} its magnitude; top-level keys as {key:format}
QUOTED = [
    "{models:d} networks, of which {reached:d} reached the training loss 0.01 and are scored; the {excluded:d} that did not",
    "no measure passes the rule",
    "(ψ above 0.9 on both)",  # checked in words below
    "at batch 128 with η 0.2, stopped at the 120-epoch cap (all with weight decay 1e-4)",  # checked in words below
    "their weight of ½ is this filter at δ ≈ 0.59, which keeps pairs about 2 points apart",  # checked below
    "Along depth the full-space φ at ε = 1e-3 and λ_max reverse it (ψ {phi_full_eps_1e-03.psi_seeds_averaged_depth:+.2f} "
    "[{phi_full_eps_1e-03.psi_seeds_averaged_depth_low:+.2f}, {phi_full_eps_1e-03.psi_seeds_averaged_depth_high:+.2f}] and "
    "{lambda_max.psi_seeds_averaged_depth:+.2f} [{lambda_max.psi_seeds_averaged_depth_low:+.2f}, {lambda_max.psi_seeds_averaged_depth_high:+.2f}]), "
    "as does the adaptive φ ({adaptive_eta_0.psi_seeds_averaged_depth:+.2f} at η = 0), while the subspace φ "
    "({phi_subspace_eps_1e-03.psi_seeds_averaged_depth:+.2f} [{phi_subspace_eps_1e-03.psi_seeds_averaged_depth_low:+.2f}, "
    "{phi_subspace_eps_1e-03.psi_seeds_averaged_depth_high:+.2f}]) and tr H ({trace.psi_seeds_averaged_depth:+.2f} "
    "[{trace.psi_seeds_averaged_depth_low:+.2f}, {trace.psi_seeds_averaged_depth_high:+.2f}]) lean that way within their intervals",
    "The highest Ψ among the measures is the subspace φ's, {phi_subspace_eps_1e-03.Psi_seeds_averaged:+.2f} "
    "[{phi_subspace_eps_1e-03.Psi_seeds_averaged_low:+.2f}, {phi_subspace_eps_1e-03.Psi_seeds_averaged_high:+.2f}] at ε = 1e-3, "
    "which fails on depth alone; tr H follows with {trace.Psi_seeds_averaged:+.2f} [{trace.Psi_seeds_averaged_low:+.2f}, "
    "{trace.Psi_seeds_averaged_high:+.2f}], failing on depth and weight decay, and the absolute 1/σ² with "
    "{inverse_sigma_sq_absolute.Psi_seeds_averaged:+.2f}, failing on weight decay alone "
    "({inverse_sigma_sq_absolute.psi_seeds_averaged_weight_decay:+.2f}).",
    "have Ψ {steps_from_milestone.Psi_seeds_averaged:+.2f} [{steps_from_milestone.Psi_seeds_averaged_low:+.2f}, "
    "{steps_from_milestone.Psi_seeds_averaged_high:+.2f}] and ψ above 0 on every axis, though their worst environment's sign error is "
    "{steps_from_milestone.sign_error_worst:.2f}; ‖x − x0‖, reversed, has Ψ {distance_from_x0.Psi_seeds_averaged:+.2f} and no sign error, "
    "and η/B, reversed, {lr_over_batch.Psi_seeds_averaged:+.2f}, which ranks batch size and learning rate as the sharpness measures do "
    "(ψ {lr_over_batch.psi_seeds_averaged_batch_size:+.2f} and {lr_over_batch.psi_seeds_averaged_learning_rate:+.2f})",
    "With every network a point instead, tr H would pass the rule — ψ above 0 on every axis (on depth {trace.psi_depth:+.2f}, on "
    "weight decay {trace.psi_weight_decay:+.2f}) and Ψ {trace.Psi:+.2f} above every baseline's (at most {distance_from_x0.Psi:+.2f}) — "
    "but only because pairs of networks that differ by seed alone count.",
    "test set resolves ({margin_points:.1f} points at δ = 0.05). There φ, λ_max, tr H and the absolute 1/σ² have no sign error "
    "(worst {trace.sign_error_worst:.2f})",
    "at most {phi_subspace_eps_1e-03.cmi:.2f} [{phi_subspace_eps_1e-03.cmi_low:.2f}, {phi_subspace_eps_1e-03.cmi_high:.2f}] "
    "(the subspace φ, given batch size and dropout)",
    "(Ψ {log_spectral_product.Psi_seeds_averaged:+.2f} for the product of spectral norms, {log_frobenius_product.Psi_seeds_averaged:+.2f} "
    "Frobenius, {path_norm.Psi_seeds_averaged:+.2f} the path norm)",
    "magnitude-aware 1/σ² ranks about as the absolute one does by Ψ ({inverse_sigma_sq_magnitude.Psi_seeds_averaged:+.2f} against "
    "{inverse_sigma_sq_absolute.Psi_seeds_averaged:+.2f}) but not by τ ({inverse_sigma_sq_magnitude.tau:+.2f} against "
    "{inverse_sigma_sq_absolute.tau:+.2f})",
    "(τ {phi_full_eps_1e-03.tau:+.2f} to {phi_subspace_eps_5e-04.tau:+.2f} for φ over all networks), the adaptive sharpness less well "
    "than φ (Ψ {adaptive_eta_0.Psi_seeds_averaged:+.2f} for η = 0 against {phi_full_eps_1e-03.Psi_seeds_averaged:+.2f})",
    "(Ψ {noise_scale.Psi_seeds_averaged:+.2f} [{noise_scale.Psi_seeds_averaged_low:+.2f}, {noise_scale.Psi_seeds_averaged_high:+.2f}])",
]


def _summary() -> dict:
    return json.loads(SUMMARY.read_text())


def _value(path: str) -> float:
    summary = _summary()
    path, _, transform = path.partition("|")
    name, _, field = path.partition(".")
    if not field:
        return summary[name]
    value = {row["name"]: row for row in summary["scores"]}[name][field]
    return abs(value) if transform == "abs" else value


def render(phrase: str) -> str:
    return quoting.render(phrase, _value)


@pytest.mark.parametrize("phrase", QUOTED)
def test_each_quoted_number_is_the_committed_studys(phrase):
    assert spaced(render(phrase)) in spaced(PAGE.read_text()), f"docs/results.md does not say: {render(phrase)!r}"


def test_the_claims_in_words_hold():
    summary = _summary()
    scores = {row["name"]: row for row in summary["scores"]}
    axes = summary["axes"]
    averaged = lambda name, axis: scores[name][f"psi_seeds_averaged_{axis}"]  # noqa: E731
    assert not any(row["predicts"] for row in scores.values())  # "no measure passes the rule"
    assert all("batch_size=128" in run and "learning_rate=0.2" in run for run in summary["excluded_runs"])  # "all at batch 128, η 0.2"
    # "Every sharpness measure ranks the gap along batch size and dropout (ψ above 0.9 on both), and φ, λ_max and tr H reverse along depth"
    for name in SHARPNESS:
        assert min(averaged(name, "batch_size"), averaged(name, "dropout")) > 0.9, name
        assert scores[name]["sign_error_worst"] == 0, name  # "no sign error"
        if name != "inverse_sigma_sq_absolute":
            assert averaged(name, "depth") < 0, name
    # "the highest Ψ among the measures is the subspace φ's ... which fails on depth alone; tr H follows ..., failing on depth and
    # weight decay, and the absolute 1/σ² ..., failing on weight decay alone"
    measures = sorted((r for r in scores.values() if r["kind"] == "measure"), key=lambda r: -r["Psi_seeds_averaged"])
    assert [r["name"] for r in measures[:2]] == ["phi_subspace_eps_1e-03", "trace"]
    failing = {name: [a for a in axes if not averaged(name, a) > 0] for name in ("phi_subspace_eps_1e-03", "trace", "inverse_sigma_sq_absolute")}
    assert failing == {"phi_subspace_eps_1e-03": ["depth"], "trace": ["depth", "weight_decay"], "inverse_sigma_sq_absolute": ["weight_decay"]}
    # "None reaches the best baseline": the steps, reversed, with ψ above 0 on every axis; ‖x − x0‖ reversed; η/B reversed, no ψ off its axes
    baselines = {n: r for n, r in scores.items() if r["kind"] == "baseline"}
    best = max(baselines.values(), key=lambda r: r["Psi_seeds_averaged"])
    assert best["name"] == "steps_from_milestone" and best["orientation"] == -1 and measures[0]["Psi_seeds_averaged"] < best["Psi_seeds_averaged"]
    assert all(averaged("steps_from_milestone", a) > 0 for a in axes)
    assert baselines["distance_from_x0"]["orientation"] == -1 and baselines["distance_from_x0"]["sign_error_worst"] == 0
    assert baselines["lr_over_batch"]["orientation"] == -1
    assert all(np.isnan(averaged("lr_over_batch", a)) for a in ("width", "depth", "weight_decay", "dropout"))
    # "With every network a point instead, tr H would pass the rule — ψ above 0 on every axis and Ψ above every baseline's (at most
    # ‖x − x0‖'s)"; no sign error either
    assert all(scores["trace"][f"psi_{a}"] > 0 for a in axes) and scores["trace"]["sign_error_worst"] < 0.5
    assert max(baselines.values(), key=lambda r: r["Psi"])["name"] == "distance_from_x0"
    assert scores["trace"]["Psi"] > max(r["Psi"] for r in baselines.values())
    # "The sign errors rest on batch size, learning rate and dropout": environments per axis
    environments = {a: scores["trace"][f"sign_environments_{a}"] for a in axes}
    assert environments["width"] == environments["depth"] == environments["weight_decay"] == 0, environments
    assert min(environments["batch_size"], environments["learning_rate"], environments["dropout"]) > 0, environments
    assert 0 < summary["margin_points"] < 5
    # "the magnitude-aware 1/σ² ranks about as the absolute one does": within 0.05
    assert abs(scores["inverse_sigma_sq_magnitude"]["Psi_seeds_averaged"] - scores["inverse_sigma_sq_absolute"]["Psi_seeds_averaged"]) < 0.05
    # "The gradient noise scale does not rank": its interval holds 0
    assert scores["noise_scale"]["Psi_seeds_averaged_low"] < 0 < scores["noise_scale"]["Psi_seeds_averaged_high"]
    # "the steps rank inversely": the steps baseline reversed
    assert baselines["steps_from_milestone"]["orientation"] == -1
    # "The best baseline does as well": its Ψ interval overlaps the best measure's
    assert best["Psi_seeds_averaged_low"] < measures[0]["Psi_seeds_averaged_high"]
    # "(all with weight decay 1e-4)"
    assert all("weight_decay=0.0001" in run for run in summary["excluded_runs"])
    # "Along depth the full-space φ and λ_max reverse it ..., as does the adaptive φ, while the subspace φ and tr H lean that way
    # within their intervals"
    for name in ("phi_full_eps_1e-03", "lambda_max"):
        assert scores[name]["psi_seeds_averaged_depth_high"] < 0, name
    assert averaged("adaptive_eta_0", "depth") < 0
    for name in ("phi_subspace_eps_1e-03", "trace"):
        assert averaged(name, "depth") < 0 < scores[name]["psi_seeds_averaged_depth_high"], name
    # "their weight of ½ is this filter at δ ≈ 0.59, which keeps pairs about 2 points apart": (1 − δ/2)² = ½, and the margin at
    # that δ for the test set whose margin at δ = 0.05 the summary gives
    delta = 2 * (1 - 2**-0.5)
    samples = math.log(4 / summary["delta"]) / (2 * (summary["margin_points"] / 200) ** 2)
    assert f"{delta:.2f}" == "0.59" and round(100 * hoeffding_margin(round(samples), delta)) == 2
    # "Jiang's conditional mutual information is small for every measure, at most ... (the subspace φ, given batch size and dropout)"
    top = max((r for r in scores.values() if r["kind"] == "measure"), key=lambda r: r["cmi"])
    assert top["name"] == "phi_subspace_eps_1e-03" and top["cmi_given"] == "batch_size+dropout" and top["cmi"] < 0.2
