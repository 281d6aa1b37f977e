"""lbgap.report.target: every solution where it ended and at the target training loss; how the target was
crossed; the runs that never reached it named rather than dropped."""

from __future__ import annotations

import pandas as pd
import pytest

from lbgap.report.target import crossing_frame, flagged_at_target, not_reached, target_loss_ratio, target_ratios, target_row


def _train(rows: list[dict]) -> dict:
    return {"per_seed": rows, "summary": {}}


def _survey(phis: dict[int, float], certified: bool = True) -> dict:
    rows = [{"seed": s, "phi": v, "certified": certified} for s, v in phis.items()]
    return {"per_seed": {"full": {"eps_1e-03": rows}, "subspace": {"eps_1e-03": rows}},
            "summary": {space: {"eps_1e-03": {"phi": {"mean": sum(phis.values()) / len(phis), "std": None}}} for space in ("full", "subspace")}}


def test_final_and_target_values_are_over_the_same_runs_and_the_others_are_named():
    train = _train([{"seed": 0, "target_epoch": 5, "target_train_loss": 0.009}, {"seed": 1, "target_epoch": None, "target_train_loss": None}])
    sharpness = {**_survey({0: 10.0, 1: 1000.0}), "at_target_loss": _survey({0: 30.0})}
    row = target_row("LB", train, sharpness, "eps_1e-03")
    assert row["reached"] == "1 of 2" and row["epochs"] == "5" and row["train loss at target"] == "0.009"
    assert row["φ full final"] == "10" and row["φ full at target"] == "30"  # seed 1's final φ (1000) is left out
    never = target_row("SB", _train([{"seed": 0, "target_epoch": None}]), _survey({0: 2.0}), "eps_1e-03")
    assert (never["reached"], never["φ full final"], never["φ full at target"]) == ("0 of 1", "–", "–")
    flagged = target_row("LB", train, {**sharpness, "at_target_loss": _survey({0: 30.0}, certified=False)}, "eps_1e-03")
    assert flagged["φ full at target"] == "30 (flagged)"


def test_the_crossing_shows_the_loss_before_and_at_the_target_and_later_relapses():
    curve = pd.DataFrame({"seed": 0, "epoch": [0, 1, 2, 3, 4], "train_loss": [2.0, 0.02, 0.006, 0.011, 0.008],
                          "train_accuracy": [0.1, 0.9, 0.99, 0.98, 0.99], "test_accuracy": [0.1, 0.8, 0.85, 0.84, 0.86],
                          "updates": [0, 10, 20, 30, 40]})
    reached = {"seed": 0, "target_epoch": 2, "target_updates": 17, "target_train_loss": 0.0093, "target_train_accuracy": 0.995,
               "target_test_accuracy": 0.851}
    train = {"sb": _train([reached]), "lb": _train([{"seed": 0, "target_epoch": None}])}
    (row,) = crossing_frame(train, {"sb": curve, "lb": curve}, 0.01).to_dict(orient="records")
    assert row == {"run": "SB seed 0", "epoch": 2, "update": 17, "loss at the epoch end before": "0.0200",
                   "checked within the epoch": "yes", "loss at target": "0.0093",
                   "train acc (%)": "99.50", "test acc (%)": "85.10", "later epoch ends above target": "1 of 3"}


def test_ratios_at_the_target_need_both_regimes():
    sb, lb = {**_survey({0: 2.0}), "at_target_loss": _survey({0: 4.0})}, {**_survey({0: 50.0}), "at_target_loss": _survey({0: 100.0})}
    ratios = target_ratios({"sb": sb, "lb": lb})
    assert ratios["full"]["eps_1e-03"] == {"sb": 4.0, "lb": 100.0, "lb_over_sb": pytest.approx(25.0)}
    without = target_ratios({"sb": _survey({0: 2.0}), "lb": lb})
    assert without["full"]["eps_1e-03"]["lb_over_sb"] is None
    train = {"sb": _train([{"target_train_loss": 0.006}, {"target_train_loss": 0.008}]), "lb": _train([{"target_train_loss": 0.0098}])}
    assert target_loss_ratio(train) == pytest.approx(0.0098 / 0.007)
    assert target_loss_ratio({"sb": _train([{"target_train_loss": None}]), "lb": train["lb"]}) is None


def test_the_committed_run_names_exactly_the_runs_without_a_target_epoch(committed_run):
    expected = {f"{name} seed {row['seed']}" for name, doc in (("SB", committed_run.train["sb"]), ("LB", committed_run.train["lb"]))
                for row in doc["per_seed"] if "target_epoch" in row and row["target_epoch"] is None}
    named = set(not_reached(committed_run))
    assert expected <= named
    assert not any(n.startswith(("SB seed", "LB seed")) for n in named - expected)


def test_maximizations_at_the_target_that_failed_their_certificate_are_listed():
    def survey(certified: bool) -> dict:
        row = {"seed": 0, "phi": 5.0, "loss_at_x": 0.01, "levelled_off": certified, "certified": certified}
        return {"per_seed": {"full": {"eps_1e-03": [row]}}, "summary": {"full": {"eps_1e-03": {"phi": {"mean": 5.0, "std": None}}}}}

    sharpness = {"sb": {**survey(True), "at_target_loss": survey(False)}, "lb": {**survey(True), "at_target_loss": survey(True)}}
    assert flagged_at_target(sharpness) == [{"regime": "SB", "seed": 0, "space": "full", "eps": "1e-03", "why": "its best f was still rising"}]
    assert flagged_at_target({"sb": survey(True), "lb": survey(True)}) == []  # no run reached the target
