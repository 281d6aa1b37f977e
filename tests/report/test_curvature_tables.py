"""lbgap.report.curvature_tables: which direction of each measure means sharper, and the verdicts."""

from __future__ import annotations

from lbgap.report.curvature_tables import measure_rows, measures_table, rescaling_table


def _stats(mean):
    return {"mean": mean, "std": None}


def test_each_measure_knows_which_way_is_sharper():
    rows = {key: direction for key, _, direction in measure_rows(
        ["lambda_1", "trace", "phi_eps_1e-03", "adaptive_eta_0", "sigma_absolute", "inverse_sigma_sq_absolute", "noise_scale", "gradient_sq"])}
    assert rows == {"lambda_1": True, "trace": True, "phi_eps_1e-03": True, "adaptive_eta_0": True,
                    "sigma_absolute": False, "inverse_sigma_sq_absolute": True, "noise_scale": None}  # gradient_sq not reported


def test_verdicts_follow_each_measures_direction():
    summaries = {
        "sb": {"lambda_1": _stats(2.0), "sigma_absolute": _stats(0.2), "trace": _stats(5.0), "noise_scale": _stats(100.0)},
        "lb": {"lambda_1": _stats(20.0), "sigma_absolute": _stats(0.1), "trace": _stats(4.0), "noise_scale": _stats(50.0)},
    }
    table, numbers = measures_table(summaries, {"sb": _stats(1.0), "lb": _stats(100.0)})
    assert numbers["paper_phi"]["agrees"] is True and numbers["paper_phi"]["lb_over_sb"] == 100.0
    assert numbers["lambda_1"]["agrees"] is True
    assert numbers["sigma_absolute"]["agrees"] is True  # a smaller σ at LB: LB sharper, as φ says
    assert numbers["trace"]["agrees"] is False and "**no**" in table
    assert numbers["noise_scale"]["agrees"] is None


def test_rescaling_table_lists_both_solutions():
    part = {"before": {"lambda_1": 2.0, "phi": 1.0}, "after": {"lambda_1": 200.0, "phi": 1.0}, "ratio": {"lambda_1": 100.0, "phi": 1.0}}
    table = rescaling_table({"sb": part, "lb": part})
    assert table.count("λ_max") == 2 and "| 100 " in table
