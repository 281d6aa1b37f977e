"""lbgap.report.paper: the paper's published numbers and the comparison with a run."""

from __future__ import annotations

from lbgap.report.paper import ACCURACY, SHARPNESS, comparison_table, paper_quantities, paper_row


def test_a_run_is_compared_with_its_own_configuration_or_labelled_f1():
    assert paper_row("C1", "cifar10") == ("C1", True) and paper_row("F1", "mnist") == ("F1", True)
    assert paper_row("mlp", "mnist1d") == ("F1", False) and paper_row("C1", "mnist") == ("F1", False)


def test_the_published_tables_are_complete():
    nets = {"F1", "F2", "C1", "C2", "C3", "C4"}
    assert set(ACCURACY) == nets and all(set(SHARPNESS[space]) == nets for space in ("full", "subspace"))
    assert ACCURACY["F1"]["test LB"] == (97.81, 0.07) and SHARPNESS["full"]["C1"]["LB eps_1e-03"] == (707.23, 43.04)


def test_the_comparison_shows_the_difference_only_for_the_same_configuration():
    ours = {"test SB": 98.0, "full LB eps_1e-03": 300.0}
    same = comparison_table("F1", True, ours)
    assert "this run − paper" in same
    assert "+94.86" in same  # 300 − 205.14 in the full-space LB ε = 1e-3 row
    assert "-0.03" in same  # 98.0 − 98.03
    other = comparison_table("F1", False, ours)
    assert "this run − paper" not in other and "—" in other  # quantities this run lacks


def test_paper_quantities_are_keyed_like_the_published_columns():
    train = {r: {"summary": {"train_accuracy": {"mean": 0.99}, "test_accuracy": {"mean": 0.9}}} for r in ("sb", "lb")}
    sharp = {r: {"summary": {"full": {"eps_1e-03": {"phi": {"mean": 5.0}}}}} for r in ("sb", "lb")}
    quantities = paper_quantities(train, sharp)
    assert quantities["test SB"] == 90.0 and quantities["full LB eps_1e-03"] == 5.0
    assert set(quantities) <= set(ACCURACY["F1"]) | {f"full {k}" for k in SHARPNESS["full"]["F1"]}
