"""The run's headline numbers (metrics/summary.json, the columns of `dvc exp show`) from the stages'
JSON documents."""

from __future__ import annotations

import math
from typing import Any, Mapping

import pandas as pd

from lbgap.experiments.sweep import Threshold
from lbgap.results import mean_std

REGIME_NAMES = {"sb": "SB", "lb": "LB"}


def headline(train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping]) -> dict:
    """The numbers `dvc exp show` puts in columns: accuracies in percent, their gap, and mean φ per
    regime, space and ε with the LB/SB ratio, whether every seed's φ passed its certificate, and the same
    under the paper's protocol. `train[regime]` / `sharpness[regime]` are the JSON
    documents the train and sharpness stages write."""
    test = {r: 100 * train[r]["summary"]["test_accuracy"]["mean"] for r in ("sb", "lb")}
    out: dict = {
        "batch": {r: train[r]["batch_size"] for r in ("sb", "lb")},
        "test_acc_pct": {**test, "gap": test["sb"] - test["lb"]},
        "train_acc_pct": {r: 100 * train[r]["summary"]["train_accuracy"]["mean"] for r in ("sb", "lb")},
        "sharpness": {},
    }
    for space, by_eps in sharpness["sb"]["summary"].items():
        out["sharpness"][space] = {}
        for key in by_eps:
            summaries = [sharpness[r]["summary"][space][key] for r in ("sb", "lb")]
            sb, lb = (s["phi"]["mean"] for s in summaries)
            out["sharpness"][space][key] = {"sb": sb, "lb": lb, "lb_over_sb": lb / sb if sb > 0 else None,
                                            "certified": certified(summaries)}
            if all("paper_protocol_phi" in s for s in summaries):  # the paper's protocol, read off the same search
                sb, lb = (s["paper_protocol_phi"]["mean"] for s in summaries)
                out["sharpness"][space][key]["paper_protocol"] = {"sb": sb, "lb": lb, "lb_over_sb": lb / sb if sb > 0 else None}
    return out


def headline_metrics(numbers: Mapping[str, Any]) -> dict:
    """The few numbers DVC lists as metrics (metrics/headline.json: `dvc exp show`, `dvc metrics diff`), flat,
    from the summary `numbers`: test and train accuracy (%) and the gap (points); φ in the full space at the
    first ε per regime, its LB/SB ratio there and in the subspace, and how many φ measurements were flagged;
    the distance ratio; at the target training loss, the gap and the full-space φ ratio (None where a
    regime never reached it)."""
    test, train = numbers["test_acc_pct"], numbers["train_acc_pct"]
    full, subspace = (next(iter(numbers["sharpness"][space].values())) for space in ("full", "subspace"))
    target = numbers.get("at_target_loss") or {}
    target_test = target.get("test_acc_pct") or {}
    target_full = next(iter(((target.get("sharpness") or {}).get("full") or {}).values()), {})
    return {
        "test_acc_sb": test["sb"], "test_acc_lb": test["lb"], "gap": test["gap"],
        "train_acc_sb": train["sb"], "train_acc_lb": train["lb"],
        "phi_sb": full["sb"], "phi_lb": full["lb"], "phi_ratio": full["lb_over_sb"],
        "phi_ratio_subspace": subspace["lb_over_sb"], "phi_flagged": len(numbers["sharpness_flagged"]),
        "distance_ratio": numbers["distance_ratio"]["mean"],
        "target_gap": None if None in (sb := target_test.get("sb"), lb := target_test.get("lb")) else sb - lb,
        "target_phi_ratio": target_full.get("lb_over_sb"),
    }


def certified(summaries: list[Mapping]) -> bool | None:
    """True when every seed's φ in `summaries` passed its certificate, False when one failed, None for
    records from runs that kept no certificate."""
    flags = [s.get("certified") for s in summaries]
    return None if None in flags else all(flags)


def distance_ratio(train: Mapping[str, Mapping]) -> dict:
    """‖x_SB − x0‖ / ‖x_LB − x0‖ per seed (SB and LB of one seed share x0) and its mean (paper: 3-10)."""
    sb = {row["seed"]: row["distance_from_x0"] for row in train["sb"]["per_seed"]}
    per_seed = [
        {"seed": row["seed"], "ratio": sb[row["seed"]] / row["distance_from_x0"]}
        for row in train["lb"]["per_seed"]
        if row["seed"] in sb and row["distance_from_x0"] > 0
    ]
    return {"per_seed": per_seed, **mean_std(r["ratio"] for r in per_seed)}


def remedy_numbers(remedies: list[Mapping]) -> dict:
    """Per remedy: test accuracy (%) and mean φ per space and ε."""
    return {
        m["strategy"]: {
            "test_acc_pct": 100 * m["train"]["summary"]["test_accuracy"]["mean"],
            "sharpness": {
                space: {key: stats["phi"]["mean"] for key, stats in by_eps.items()}
                for space, by_eps in m["sharpness"]["summary"].items()
            },
        }
        for m in remedies
    }


def warm_start_numbers(points: pd.DataFrame) -> dict:
    return {
        f"sb_epochs_{row.sb_epochs}": {"lb_test_acc_pct": 100 * row.lb_test_accuracy, "lb_sharpness": row.lb_sharpness}
        for row in points.itertuples()
    }


def sweep_numbers(threshold: Threshold) -> dict:
    return {"threshold_batch": threshold.batch_size, "threshold_crossing": threshold.crossing}


def null_if_undefined(value: Any) -> Any:
    """The headline metrics with NaN/inf as null: strict JSON, which `dvc exp show` and other readers take."""
    if isinstance(value, dict):
        return {k: null_if_undefined(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
