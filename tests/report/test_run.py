"""lbgap.report.run: what the report derives from a run's params and documents."""

from __future__ import annotations

import dataclasses
import math

import pytest



def test_the_run_is_labelled_and_keyed_by_its_params(committed_run):
    assert committed_run.label == "mlp on mnist1d"
    assert committed_run.batch_sizes == {"sb": committed_run.params["small_batch"], "lb": committed_run.params["batch"]}
    assert committed_run.first_eps_key == "eps_1e-03" and committed_run.bn_statistics == "recompute"


def test_only_the_chosen_networks_options_are_reported(committed_run):
    params = {**committed_run.params, "runtime": {**committed_run.params["runtime"], "models": {"mlp": {"width": 8}, "F1": None}}}
    used = type(committed_run)(params, *list(vars(committed_run).values())[1:]).used_params()
    assert used["runtime"]["models"] == {"mlp": {"width": 8}} and used["seeds"] == params["seeds"]


def _with_sweep_accuracies(run, accuracy_by_batch: dict):
    """`run` whose sweep documents report these mean test accuracies (fractions), batch size by batch size."""
    docs = [{**doc, "summary": {**doc["summary"], "test_accuracy": {"mean": accuracy_by_batch[doc["batch_size"]], "std": None}}}
            for doc in run.sweep]
    return dataclasses.replace(run, sweep=docs)


def test_the_sweep_is_in_batch_order_and_its_threshold_is_read_off_its_points(committed_run):
    assert list(committed_run.sweep_points.batch_size) == sorted(committed_run.params["sweep"]["batches"])
    assert committed_run.params["sweep"]["drop"] == 1.0  # the hand-worked answers below assume the default rule
    first, second, third, *rest = sorted(committed_run.params["sweep"]["batches"])
    # 80 %, 82 %, 81.5 % (only 0.5 below the best so far: holds), then 80.5 % (1.5 below 82: the threshold)
    accuracies = {first: 0.80, second: 0.82, third: 0.815, **{b: 0.805 for b in rest}}
    threshold = _with_sweep_accuracies(committed_run, accuracies).threshold
    assert (threshold.batch_size, threshold.reference_batch) == (rest[0], second)
    assert threshold.accuracy == pytest.approx(80.5) and threshold.reference_accuracy == pytest.approx(82.0)
    # the crossing of 81 % between third (81.5) and rest[0] (80.5): halfway in log2 batch size
    assert threshold.crossing == pytest.approx(2 ** ((math.log2(third) + math.log2(rest[0])) / 2))
    assert _with_sweep_accuracies(committed_run, {b: 0.8 for b in accuracies}).threshold.batch_size is None