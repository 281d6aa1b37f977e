"""lbgap.report.study: the study's section says, per measure, every score and whether the rule passes it,
gives the verdict in words, and draws ψ per axis; a study with nothing to score says why."""

from __future__ import annotations

import pandas as pd

from lbgap.experiments.study_summary import study_summary
from lbgap.report.study import NOT_SHOWN, out_of_grid_text, study_figure, study_section_text

STUDY = {"batch_sizes": [32, 64], "learning_rates": [0.1, 1.0], "widths": [8], "depths": [1], "weight_decays": [0.0],
         "dropouts": [0.0], "seeds": 2, "max_epochs": 10}


def _table(reached: bool = True) -> pd.DataFrame:
    """TABLE of tests/experiments/test_study_statistics.py with two seeds and every column a study row has."""
    base = pd.DataFrame({"learning_rate": [0.1, 1.0, 0.1, 1.0], "batch_size": [32, 32, 64, 64], "gap": [1.0, 3.0, 2.0, 5.0]})
    table = pd.concat([base.assign(seed=s, gap=base.gap + 0.1 * s) for s in range(2)], ignore_index=True)
    return table.assign(width=8, depth=1, weight_decay=0.0, dropout=0.0, reached=reached, diverged=False, steps=10,
                        train_loss=0.01, train_accuracy=100.0, test_accuracy=100 - table.gap, test_loss=0.5,
                        sharp=table.gap * 2, lr_over_batch=table.learning_rate / table.batch_size, steps_from_milestone=5.0,
                        lr_over_sqrt_batch=table.learning_rate / table.batch_size ** 0.5, distance_from_x0=1.0)


def test_the_section_scores_every_measure_and_names_the_ones_that_predict():
    summary = study_summary(_table(), test_samples=10**6, delta=0.05, resamples=30, confidence=0.9, seed=0)
    text = study_section_text(summary, STUDY, 0.01, lambda name: f"figures/{name}.png")
    assert "8 models,\n8 reached the target" in text and "(batch_size, learning_rate)" in text and NOT_SHOWN in text
    assert "sharp predicts the generalization gap here." in text and "By the study's rule (ψ with each configuration's seeds averaged" in text and "](figures/study.png)" in text
    assert "| lr_over_batch (baseline" in text and "no: ψ (seeds averaged) not above 0" in text  # the control fails on both axes
    sharp = next(r for r in summary["scores"] if r["name"] == "sharp")
    assert f"{sharp['cmi']:.2f} [{sharp['cmi_low']:.2f}, {sharp['cmi_high']:.2f}] (" in text  # the CMI with its interval
    worst = f"{sharp['sign_error_worst']:.2f} [{sharp['sign_error_worst_low']:.2f}, {sharp['sign_error_worst_high']:.2f}]"
    theirs = f"{sharp['dziugaite_sign_error_worst']:.2f} [{sharp['dziugaite_sign_error_worst_low']:.2f}, {sharp['dziugaite_sign_error_worst_high']:.2f}]"
    assert f" / {worst} " in text and f" / {theirs} " in text and "(Dziugaite et al.'s threshold alone — a pair's weight above ½, δ = 0.586 —" in text
    assert f"| Ψ − {sharp['best_baseline']}'s " in text and sharp["best_baseline"] in {r["name"] for r in summary["scores"] if r["kind"] == "baseline"}
    assert "| Ψ, seeds averaged (the rule's) " in text and "ψ above every baseline's on" in text
    assert "at the rule's filter / at Dziugaite et al.'s, over the first measure's networks: batch size 2 / 2 / 2; learning rate 2 / 2 / 2." in text
    # the seeds average to the base gaps + 0.05: along batch size 2 − 1 and 5 − 3, along learning rate 3 − 1 and 5 − 2
    assert "batch size +1.50 [+1.00, +2.00], at most 2.0, up in 2 and down in 0 of 2; learning rate +2.50 [+2.00, +3.00], at most 3.0, up in 2 and down in 0 of 2." in text
    assert "The sign errors rest on batch size, learning rate." in text
    assert "lr_over_batch (baseline, reversed)" in text or "lr_over_batch (baseline)" in text
    figure = study_figure(summary)
    cmi_axis, sign_axis = figure.axes[2], figure.axes[3]
    assert len(cmi_axis.patches) == len(summary["scores"]) == len(sign_axis.patches)  # a bar per measure and baseline
    assert len(sign_axis.collections[-2].get_offsets()) == len(summary["scores"])  # and its worst environment at the rule's filter (×)
    assert len(sign_axis.collections[-1].get_offsets()) == len(summary["scores"])  # and at Dziugaite et al.'s (+)
    assert len(figure.axes) == 5 and [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["batch size", "learning rate"]
    kinds = {r["kind"] + ("/predicts" if r["predicts"] else "") for r in summary["scores"]}
    legend = [t.get_text() for t in figure.legends[0].get_texts()]  # every colour drawn is named, no other
    assert len(legend) == len(kinds) and ("measure: predicts by the rule" in legend) == ("measure/predicts" in kinds)
    drawn = {tuple(bar.get_facecolor()) for bar in figure.axes[1].patches}
    assert {tuple(handle.get_facecolor()) for handle in figure.legends[0].legend_handles} == drawn  # in the bars' colours
    assert "Ψ, seeds averaged: over\n4 configurations\n(8 networks)" == figure.axes[1].get_title()
    assert {t.get_color() for t in figure.axes[0].get_xticklabels()} != {"gray"}
    unresolved = {**summary, "scores": [{**r, "sign_environments_learning_rate": 0} for r in summary["scores"]]}
    labels = study_figure(unresolved).axes[0].get_xticklabels()  # an axis with no sign-error environment: its name grey
    assert labels[1].get_color() == "gray" and labels[0].get_color() != "gray"
    outside = {**summary, "scores": [{**r, "cmi_low": r["cmi"] + 0.1, "cmi_high": r["cmi"] + 0.2} for r in summary["scores"]]}
    study_figure(outside)  # a point estimate outside its own interval (a bootstrap can put it there) is drawn, not refused
    fewer = {**summary, "scores": [{**r, "models": 5} if i == 0 else r for i, r in enumerate(summary["scores"])]}
    assert study_figure(fewer).axes[1].get_title() == "Ψ, seeds averaged: over\n4 configurations\n(5–8 networks)\n(each measure where defined)"


def test_a_study_where_no_run_reached_the_target_says_so():
    summary = study_summary(_table(reached=False), test_samples=1000, delta=0.05, resamples=10, confidence=0.9, seed=0)
    text = study_section_text(summary, STUDY, 0.01, lambda name: name)
    assert "No scores: fewer than 3 runs reached the target." in text and "0 reached the target" in text
    assert "no scores" in study_figure(summary).axes[0].texts[0].get_text()


def _predictors(name: str, all_tau: float, within: float) -> dict:
    """A predictors document ranking 5 of 7 solutions, with `name`'s τ with the gap (and the test loss)."""
    taus = [{"measure": name, "target": target, "scope": scope, "tau": tau, "low": tau - 0.25, "high": tau + 0.25}
            for target in ("gap", "test_loss") for scope, tau in (("all", all_tau), ("within", within))]
    return {"solutions": 7, "included": 5, "tau": taus}


def test_the_out_of_grid_check_carries_the_grids_predictor_to_the_runs_own_solutions():
    summary = study_summary(_table(), test_samples=10**6, delta=0.05, resamples=30, confidence=0.9, seed=0)
    predictors = _predictors("sharp", 0.5, -0.25)
    predictors["tau"] += _predictors("train_loss", 0.75, 0.75)["tau"]
    text = study_section_text(summary, STUDY, 0.01, lambda name: name, predictors)
    check = out_of_grid_text(summary, predictors)
    assert check in text and "the 5 of 7 the predictors section ranks" in check
    assert "the measures that pass the rule on the grid, and their τ with the gap there — sharp: τ +0.50 [+0.25, +0.75] over all, " \
        "−0.25 [−0.50, +0.00] within batch size. Descriptive only" in check.replace("-", "−")
    failing = {**summary, "scores": [{**r, "predicts": False} for r in summary["scores"]]}
    defined = [r for r in failing["scores"] if r["kind"] == "measure" and r["Psi_seeds_averaged"] == r["Psi_seeds_averaged"]]  # NaN ≠ NaN
    best = max(defined, key=lambda r: r["Psi_seeds_averaged"])["name"]
    assert best == "sharp"
    assert f"the one with the highest Ψ (seeds averaged), {best}, and its τ" in out_of_grid_text(failing, _predictors(best, 0.1, 0.2))
    assert "say nothing about the grid's verdict" in out_of_grid_text(summary, _predictors("other", 0.1, 0.2))
    assert "Out-of-grid" not in study_section_text(summary, STUDY, 0.01, lambda name: name)  # no predictors stage: no check
