"""lbgap.report.curvature_tables: which direction of each measure means sharper, and the verdicts."""

from __future__ import annotations

from lbgap.report.curvature_tables import measure_rows, measures_table, rescaling_table


def test_each_measure_knows_which_way_is_sharper():
    rows = {key: direction for key, _, direction in measure_rows(
        ["lambda_1", "trace", "phi_eps_1e-03", "adaptive_eta_0", "sigma_absolute", "inverse_sigma_sq_absolute", "noise_scale", "gradient_sq"])}
    assert rows == {"lambda_1": True, "trace": True, "phi_eps_1e-03": True, "adaptive_eta_0": True,
                    "sigma_absolute": False, "inverse_sigma_sq_absolute": True, "noise_scale": None}  # gradient_sq not reported


def test_verdicts_follow_each_measures_direction():
    summaries = {
        "sb": {"lambda_1": {"mean": 2.0, "std": None}, "sigma_absolute": {"mean": 0.2, "std": None}, "trace": {"mean": 5.0, "std": None}, "noise_scale": {"mean": 100.0, "std": None}},
        "lb": {"lambda_1": {"mean": 20.0, "std": None}, "sigma_absolute": {"mean": 0.1, "std": None}, "trace": {"mean": 4.0, "std": None}, "noise_scale": {"mean": 50.0, "std": None}},
    }
    table, numbers = measures_table(summaries, {"sb": {"mean": 1.0, "std": None}, "lb": {"mean": 100.0, "std": None}})
    assert numbers["paper_phi"]["agrees"] is True and numbers["paper_phi"]["lb_over_sb"] == 100.0
    assert numbers["lambda_1"]["agrees"] is True
    assert numbers["sigma_absolute"]["agrees"] is True  # a smaller σ at LB: LB sharper, as φ says
    assert numbers["trace"]["agrees"] is False and "**no**" in table
    assert numbers["noise_scale"]["agrees"] is None


def test_rescaling_table_lists_both_solutions():
    part = {"before": {"lambda_1": 2.0, "phi": 1.0}, "after": {"lambda_1": 200.0, "phi": 1.0}, "ratio": {"lambda_1": 100.0, "phi": 1.0}}
    table = rescaling_table({"sb": part, "lb": part})
    assert table.count("λ_max") == 2 and "| 100 " in table
