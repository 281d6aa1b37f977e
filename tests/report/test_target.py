"""lbgap.report.target: every solution where it ended and at the target training loss, and the runs that never
reached it named rather than dropped."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from lbgap.report.target import not_reached, target_frame, target_ratios, target_section


def _with_sb_seed_short_of_the_target(run, seed: int):
    """`run` as if SB seed `seed` had never reached the target loss."""
    train, sharpness = copy.deepcopy(run.train), copy.deepcopy(run.sharpness)
    for row in train["sb"]["per_seed"]:
        if row["seed"] == seed:
            row.update(target_epoch=None, target_train_loss=None, target_test_accuracy=None)
    return dataclasses.replace(run, train=train, sharpness=sharpness)


def test_a_run_that_never_reached_the_target_is_named_and_not_counted(committed_run):
    run = _with_sb_seed_short_of_the_target(committed_run, 1)
    assert "SB seed 1" in not_reached(run) and "SB seed 1" not in not_reached(committed_run)
    seeds = len(run.train["sb"]["per_seed"])
    (sb,) = target_frame(run)[lambda f: f.solutions == "SB"].to_dict(orient="records")
    assert sb["reached"] == f"{seeds - 1} of {seeds}"
    assert "Never reached the target" in target_section(run) and "SB seed 1" in target_section(run)


def test_the_ratio_at_the_target_is_of_the_means_the_sharpness_stages_wrote(committed_run):
    ratios = target_ratios(committed_run.sharpness)
    for space, by_eps in ratios.items():
        for key, value in by_eps.items():
            means = [committed_run.sharpness[r]["at_target_loss"]["summary"][space][key]["phi"]["mean"] for r in ("sb", "lb")]
            assert (value["sb"], value["lb"]) == tuple(means)
            assert value["lb_over_sb"] == pytest.approx(means[1] / means[0])


def test_without_target_iterates_there_is_no_ratio_and_every_run_is_named(committed_run):
    sharpness = {r: {k: v for k, v in doc.items() if k != "at_target_loss"} for r, doc in committed_run.sharpness.items()}
    assert all(v["lb_over_sb"] is None for by_eps in target_ratios(sharpness).values() for v in by_eps.values())
