"""lbgap.report.tables: the paper-shaped markdown tables, their digits and their order."""

from __future__ import annotations

import pandas as pd

from lbgap.report.tables import accuracy_table, mitigation_rows, mitigation_table, pm, points_table, sharpness_table, sweep_frame, sweep_table


def _stats(mean, std=None):
    return {"mean": mean, "std": std}


TRAIN = {
    regime: {"batch_size": batch, "summary": {"train_accuracy": _stats(train, 0.001), "test_accuracy": _stats(test, 0.002)}}
    for regime, batch, train, test in (("sb", 256, 0.99, 0.9378), ("lb", 4000, 0.995, 0.8829))
}
SHARP = {regime: {"summary": {"full": {"eps_1e-03": {"phi": _stats(phi, 1.0)}}}} for regime, phi in (("sb", 17.3), ("lb", 3229.0))}


def test_pm_scales_rounds_and_drops_an_undefined_std():
    assert pm(_stats(0.93781, 0.0062), 100) == "93.78 ± 0.62"
    assert pm(_stats(1722.4), digits=1) == "1722.4"


def test_accuracy_and_sharpness_tables_are_shaped_like_the_paper():
    lines = accuracy_table("mlp on mnist1d", TRAIN).splitlines()
    assert "train SB" in lines[0] and "test LB" in lines[0]
    assert "93.78 ± 0.20" in lines[2] and "88.29 ± 0.20" in lines[2]
    sharp = sharpness_table("mlp on mnist1d", SHARP, "full")
    assert "SB ε=1e-03" in sharp and "3229.00 ± 1.00" in sharp


def test_mitigation_rows_put_plain_training_first_then_each_remedy():
    remedy = {"strategy": "sam", "train": {"summary": TRAIN["lb"]["summary"]}, "sharpness": {"summary": SHARP["sb"]["summary"]}}
    rows = mitigation_rows(TRAIN, SHARP, [remedy])
    assert [r["name"] for r in rows] == ["SB (batch 256)", "LB (batch 4000)", "LB + sam"]
    assert "LB + sam" in mitigation_table(rows).splitlines()[-1]


def test_the_sweep_is_sorted_by_batch_and_percent():
    documents = [
        {"batch_size": b, "per_seed": [{"steps": s}], "summary": {
            "test_accuracy": _stats(a, None), "train_accuracy": _stats(a), "sharpness": _stats(p, None)}}
        for b, s, a, p in ((4000, 150, 0.88, 900.0), (64, 9375, 0.94, 20.0))
    ]
    frame = sweep_frame(documents)
    assert list(frame.batch_size) == [64, 4000] and list(frame.test_accuracy_mean) == [94.0, 88.0]
    assert frame.test_accuracy_std.isna().all()
    table = sweep_table(frame)
    assert table.index("| 64 ") < table.index("| 4000 ") and "94.00" in table


def test_points_table_keeps_the_digits_asked_for():
    frame = pd.DataFrame({"epoch": [0, 32], "sharpness": [43.0, 1722.44]})
    table = points_table(frame, {"epoch": ("epoch", 1, 0), "φ": ("sharpness", 1, 2)})
    assert "1722.44" in table and "43.00" in table
