"""lbgap.report.markdown: the report of the committed default run — its sections, links, figures and
numbers — and how it reads for a run that is not the paper's configuration."""

from __future__ import annotations

import dataclasses
import re

from lbgap.report.markdown import BN_NOTE, FIGURES, build_report, threshold_text


def _link(name: str) -> str:
    return f"figures/{name}.png"


def test_the_report_has_every_section_and_links_every_figure(committed_run):
    report = build_report(committed_run, _link)
    text = report.markdown
    for section in ("## Accuracy (%) — cf. the paper's Table 2", "## Sharpness φ, full space (A = I) — cf. Table 3",
                    "## Remedies for the large-batch gap", "## Accuracy and sharpness vs batch size", "## Warm-started large-batch training",
                    "## Sharpness along training", "## Beyond the paper: curvature and flatness", "### Function-preserving rescaling",
                    "## Parameters of this run"):
        assert section in text, section
    assert set(re.findall(r"\]\(figures/(\w+)\.png\)", text)) == set(FIGURES)
    assert set(report.figures) < set(FIGURES) and "interpolation" not in report.figures  # drawn by its own stage
    assert committed_run.params["remedies"] and all(f"LB + {name}" in text for name in committed_run.params["remedies"])
    assert "not one of the paper's configurations" in text and BN_NOTE["recompute"] in text


def test_the_report_quotes_the_headline_gap_and_the_parameters_it_ran_with(committed_run):
    text = build_report(committed_run, _link).markdown
    train = committed_run.train
    gap = 100 * (train["sb"]["summary"]["test_accuracy"]["mean"] - train["lb"]["summary"]["test_accuracy"]["mean"])
    assert f"Test-accuracy gap SB − LB: **{gap:.2f} points**." in text
    parameters = text.split("## Parameters of this run")[1]
    assert "model: mlp" in parameters and "mlp: {width: 256, depth: 3}" in parameters


def test_no_section_and_no_sentence_is_printed_twice(committed_run, repeated_prose):
    """Each section exists once (lbgap.report.sections holds those the core report shares), and no prose
    sentence of the report repeats."""
    repeated = repeated_prose(build_report(committed_run, _link).markdown)
    assert not repeated, repeated


def test_the_threshold_sentence_names_the_threshold_or_says_there_is_none(committed_run):
    first, second, *rest = sorted(committed_run.params["sweep"]["batches"])
    dropping = dataclasses.replace(committed_run, sweep=[
        {**doc, "summary": {**doc["summary"], "test_accuracy": {"mean": 0.9 if doc["batch_size"] in (first, second) else 0.85, "std": None}}}
        for doc in committed_run.sweep])
    assert threshold_text(dropping).startswith(
        f"Threshold batch size: **{rest[0]}** (test accuracy 85.00 %, more than 1 points below 90.00 % at batch {first})")
    flat = dataclasses.replace(committed_run, sweep=[
        {**doc, "summary": {**doc["summary"], "test_accuracy": {"mean": 0.9, "std": None}}} for doc in committed_run.sweep])
    assert threshold_text(flat) == "No threshold in the swept range: no batch size tested more than 1 points below the best smaller one."


def test_data_parallel_training_is_named_with_its_per_worker_batchnorm():
    from lbgap.report.markdown import workers_note
    sizes = {"sb": 256, "lb": 4000}
    assert workers_note({"runtime": {"workers": 1}}, sizes) == ""
    assert "ghost BN with virtual batches of 64 (SB) and 1000 (LB)" in workers_note({"runtime": {"workers": 4}}, sizes)
    assert "synchronized BatchNorm" in workers_note({"runtime": {"workers": 4, "sync_batchnorm": True}}, sizes)
